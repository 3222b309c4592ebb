// The Roster admin console: one page, plain JavaScript, no build step. It only calls the admin
// API (/api/v1/admin) with the session cookie and, for writes, the CSRF token the API hands out;
// every rule is the API's, and a refusal is shown with the reason the API gives. The DOM is built
// with textContent only (never innerHTML), so nothing an IdP or a user typed can run as script.

const API = "/api/v1/admin";
let session = null;

// --- DOM and API helpers -------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Replaces an element's children with `children`, skipping null, undefined and false as `h` does:
// `cond ? node : null` then shows nothing (the DOM's own replaceChildren would print "null").
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

function flash(message, kind = "error") {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = kind;
  box.hidden = !message;
}

// An error answer of the API. A refusal of the admin policy reads "Not allowed: <its reason>":
// the admin learns why, and what to do instead, from the sentence the policy gives.
class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || `HTTP ${status}`;
    const refusal = body && body.detail && body.detail.refusal;
    super(refusal ? `Not allowed: ${message} (${refusal})` : message);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && session && session.csrfToken) headers["x-csrf-token"] = session.csrfToken;
  const response = await fetch(API + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// Runs an action from a button; shows the API's error (and refusal reason) instead of throwing.
async function attempt(action, success) {
  try {
    const result = await action();
    if (success) flash(success, "info");
    return result;
  } catch (err) {
    flash(err.message);
    return undefined;
  }
}

// Asks before a destructive action, in the page: a modal <dialog> that says what will happen,
// with the action's own verb on the confirming button and Cancel (or Escape) to keep things as
// they are. Resolves to true when confirmed.
function confirmAction({ title, message, confirm }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm-dialog", "data-testid": "confirm-dialog" });
    const answer = (confirmed) => {
      dialog.close();
      dialog.remove();
      resolve(confirmed);
    };
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); answer(false); });
    dialog.append(
      h("h2", { text: title }),
      h("p", { "data-testid": "confirm-message", text: message }),
      h("div", { class: "inline" },
        h("button", { class: "danger", "data-testid": "confirm-yes", onclick: () => answer(true) }, confirm),
        h("button", { class: "secondary", "data-testid": "confirm-cancel", onclick: () => answer(false) }, "Cancel")));
    document.body.append(dialog);
    dialog.showModal();
  });
}

// A destructive action: asks first (see confirmAction), then runs it like `attempt`. Resolves to
// undefined when cancelled or failed.
async function afterConfirming(question, action, success) {
  if (!(await confirmAction(question))) return undefined;
  return attempt(action, success);
}

function when(at) {
  return at ? new Date(at).toLocaleString() : "never";
}

function copyRow(label, value, testid) {
  if (!value) return [];
  return [
    h("span", { class: "muted", text: label }),
    h("code", { "data-testid": testid, text: value }),
    copyButton(value),
  ];
}

// A Copy button for `value`; says "Copied" for a moment once the clipboard has it.
function copyButton(value, testid) {
  const button = h("button", { class: "secondary", type: "button", "data-testid": testid, onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy by hand";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  } }, "Copy");
  return button;
}

// A login event's or check's `detail` as one line: the fine-grained reason, then want and got,
// then any other field ("header: Origin").
function describeDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  const show = (value) => (typeof value === "string" ? value : JSON.stringify(value));
  const parts = [];
  if (detail.reason) parts.push(show(detail.reason));
  if ("want" in detail) parts.push(`want ${show(detail.want)}`);
  if ("got" in detail) parts.push(`got ${show(detail.got)}`);
  for (const [key, value] of Object.entries(detail)) {
    if (!["reason", "want", "got"].includes(key) && value !== null && value !== undefined) parts.push(`${key}: ${show(value)}`);
  }
  return parts.join(" · ");
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { text: t })))), h("tbody", {}, rows));
}

function formValues(form) {
  const out = {};
  for (const [key, value] of new FormData(form).entries()) out[key] = typeof value === "string" ? value.trim() : value;
  return out;
}

// --- Sign-in -------------------------------------------------------------------------------

function signIn(view) {
  document.getElementById("nav").hidden = true;
  view.append(
    h("section", { class: "card login" },
      h("h1", { text: "Sign in to the admin console" }),
      h("form", { method: "post", action: "/login/password", id: "password-login" },
        h("input", { type: "hidden", name: "return_to", value: "/admin" }),
        h("label", {}, "Workspace", h("input", { name: "workspace", required: true, autocomplete: "organization" })),
        h("label", {}, "User name", h("input", { name: "user_name", required: true, autocomplete: "username" })),
        h("label", {}, "Password", h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
        h("button", { type: "submit" }, "Sign in with password")),
      h("h2", { text: "Or with your identity provider" }),
      h("form", { class: "inline", id: "sso-login", onsubmit: (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const query = new URLSearchParams({ email: v.email, return_to: "/admin" });
        location.href = `/sso/${encodeURIComponent(v.workspace)}/login?${query}`;
      } },
        h("label", {}, "Workspace", h("input", { name: "workspace", required: true })),
        h("label", {}, "Work email", h("input", { name: "email", type: "email", required: true })),
        h("button", { type: "submit", class: "secondary" }, "Continue with SSO"))));
}

// --- Overview ------------------------------------------------------------------------------

async function overview(view) {
  const [{ connections: conns }, scim, users, groups, failures] = await Promise.all([
    api("GET", "/connections"),
    api("GET", "/scim"),
    api("GET", "/users?limit=1000"),
    api("GET", "/groups?limit=1000"),
    api("GET", "/login-events?outcome=failure&limit=5"),
  ]);
  const count = (page, key) => `${page[key].length}${page.next ? "+" : ""}`;
  // Every active connection (SAML, OIDC and SCIM alike), not only those with SCIM on.
  const active = conns.filter((c) => c.status === "active");
  view.append(
    h("h1", { text: "Overview" }),
    h("section", { class: "card" },
      h("span", { class: "stat" }, h("b", { "data-testid": "active-connections", text: active.length }), "active connections"),
      h("span", { class: "stat" }, h("b", { "data-testid": "user-count", text: count(users, "users") }), "users"),
      h("span", { class: "stat" }, h("b", { text: count(groups, "groups") }), "groups")),
    h("h2", { text: "Provisioning (SCIM) health" }),
    table(["Connection", "Status", "Provisioned users", "Provisioned groups", "Last sync", "Recent failures"],
      scim.connections.map((c) => h("tr", { "data-testid": `sync-${c.name}` },
        h("td", { text: c.name }), h("td", { text: c.status, class: c.status === "active" ? "ok" : "bad" }),
        h("td", { "data-testid": "provisioned-users", text: c.provisionedUserCount }), h("td", { text: c.provisionedGroupCount }),
        h("td", { "data-testid": "last-sync", text: when(c.lastSyncAt) }),
        h("td", { text: c.recentFailures, class: c.recentFailures ? "bad" : "" })))),
    h("h2", { text: "Recent login failures" }),
    table(["When", "Reason", "Detail", "Email", "Event"], failures.events.map((e) =>
      h("tr", {}, h("td", { text: when(e.at) }), h("td", { text: e.reason }), h("td", { class: "mono", text: describeDetail(e.detail) }),
        h("td", { text: e.email || "" }), h("td", { class: "mono", text: e.id })))));
}

// --- Connections ---------------------------------------------------------------------------

function connectionForm(done) {
  const samlFields = h("div", { id: "saml-fields" },
    h("p", { class: "muted", text: "Your IdP asks for Roster's SP entity id and ACS URL first? Leave the metadata empty: the connection is created as a draft that shows them, and takes the IdP metadata later." }),
    h("label", {}, "IdP metadata URL", h("input", { name: "metadataUrl", type: "url", placeholder: "https://idp.example.com/metadata" })),
    h("label", {}, "…or paste the IdP metadata XML", h("textarea", { name: "metadataXml" })));
  const oidcFields = h("div", { id: "oidc-fields", hidden: true },
    h("label", {}, "Issuer", h("input", { name: "issuer", type: "url" })),
    h("label", {}, "Client id", h("input", { name: "clientId" })),
    h("label", {}, "Client secret", h("input", { name: "clientSecret", type: "password", autocomplete: "off" })),
    h("label", {}, "Token endpoint authentication", h("select", { name: "tokenAuthMethod" },
      h("option", { value: "client_secret_basic" }, "client_secret_basic"), h("option", { value: "client_secret_post" }, "client_secret_post"))));
  const kind = h("select", { name: "kind", onchange: () => {
    samlFields.hidden = kind.value !== "saml";
    oidcFields.hidden = kind.value !== "oidc";
  } }, ["saml", "oidc", "scim"].map((k) => h("option", { value: k }, k.toUpperCase())));
  return h("form", { id: "new-connection", onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(e.target);
    const body = { name: v.name, kind: v.kind, vendor: v.vendor, domains: v.domains ? v.domains.split(/[\s,]+/).filter(Boolean) : [] };
    if (v.kind === "saml") body.saml = samlMetadata(v);
    if (v.kind === "oidc") body.oidc = { issuer: v.issuer, clientId: v.clientId, clientSecret: v.clientSecret, tokenAuthMethod: v.tokenAuthMethod };
    const draft = v.kind === "saml" && !v.metadataUrl && !(v.metadataXml || "").trim();
    const created = await attempt(() => api("POST", "/connections", body), draft
      ? "Draft connection created: paste the SP values below into your IdP, then add the IdP's metadata on the connection."
      : "Connection created: paste the values below into your IdP.");
    if (created) done(created);
  } },
    h("div", { class: "inline" },
      h("label", {}, "Name", h("input", { name: "name", required: true })),
      h("label", {}, "Kind", kind),
      h("label", {}, "Vendor", h("select", { name: "vendor" }, ["generic", "entra", "okta", "onelogin", "google"].map((v) => h("option", { value: v }, v)))),
      h("label", {}, "Email domains", h("input", { name: "domains", placeholder: "example.com" }))),
    samlFields, oidcFields, h("button", { type: "submit" }, "Create connection"));
}

const VENDORS = ["generic", "entra", "okta", "onelogin", "google"];

// The form that edits a connection (PUT /connections/{id}/settings): new IdP metadata (a URL,
// fetched again on request, or pasted XML: a rolled certificate), OIDC issuer, client id and
// secret (blank keeps the stored one), vendor and email domains. Only what changed is sent, so
// changing the domains does not ask the IdP anything.
function connectionEditor(c, done) {
  const idp = c.idp || {};
  const fields = [];
  if (c.kind === "saml") {
    fields.push(
      h("label", {}, "IdP metadata URL", h("input", { name: "metadataUrl", type: "url", value: idp.metadataUrl || "" })),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "refetch", value: "yes" }), " Fetch the metadata again (the IdP rolled its certificate)"),
      h("label", {}, "…or paste the IdP's new metadata XML", h("textarea", { name: "metadataXml" })));
  }
  if (c.kind === "oidc") {
    fields.push(h("div", { class: "inline" },
      h("label", {}, "Issuer", h("input", { name: "issuer", type: "url", value: idp.issuer || "" })),
      h("label", {}, "Client id", h("input", { name: "clientId", value: idp.clientId || "" })),
      h("label", {}, "New client secret", h("input", { name: "clientSecret", type: "password", autocomplete: "off", placeholder: "blank keeps the current one" })),
      h("label", {}, "Token endpoint authentication", h("select", { name: "tokenAuthMethod" },
        ["client_secret_basic", "client_secret_post"].map((m) => h("option", { value: m, selected: m === idp.tokenAuthMethod }, m))))));
  }
  return h("form", { class: "editor", "data-testid": "edit-connection-form", onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(e.target);
    const body = { vendor: v.vendor, domains: v.domains ? v.domains.split(/[\s,]+/).filter(Boolean) : [] };
    if (c.kind === "saml") {
      // The settings the form does not show are stated again as they are, so new metadata keeps them.
      const kept = {
        allowIdpInitiated: Boolean(idp.allowIdpInitiated),
        forceAuthn: Boolean(idp.forceAuthn),
        requestedAuthnContext: idp.requestedAuthnContext || [],
        assertionEncryption: idp.assertionEncryption || "optional",
        signAuthnRequests: Boolean(idp.signAuthnRequests),
        singleLogout: idp.singleLogout !== false,
      };
      if (v.metadataXml) body.saml = { metadataXml: v.metadataXml, ...kept };
      else if (v.metadataUrl && (v.refetch || v.metadataUrl !== (idp.metadataUrl || ""))) body.saml = { metadataUrl: v.metadataUrl, ...kept };
    }
    if (c.kind === "oidc" && (v.clientSecret || v.issuer !== idp.issuer || v.clientId !== idp.clientId || v.tokenAuthMethod !== idp.tokenAuthMethod)) {
      body.oidc = { issuer: v.issuer, clientId: v.clientId, tokenAuthMethod: v.tokenAuthMethod };
      if (v.clientSecret) body.oidc.clientSecret = v.clientSecret;
    }
    if (await attempt(() => api("PUT", `/connections/${c.id}/settings`, body), `${c.name} updated.`)) done();
  } },
    h("h3", { text: `Edit ${c.name}` }),
    h("div", { class: "inline" },
      h("label", {}, "Vendor", h("select", { name: "vendor" }, VENDORS.map((v) => h("option", { value: v, selected: v === c.vendor }, v)))),
      h("label", {}, "Email domains", h("input", { name: "domains", value: (c.domains || []).join(" "), placeholder: "example.com" }))),
    fields,
    h("div", { class: "inline" },
      h("button", { type: "submit", "data-testid": "save-connection" }, "Save changes"),
      h("button", { type: "button", class: "secondary", onclick: (e) => { e.target.closest("form").remove(); } }, "Cancel")));
}

// The `saml` settings of a form with metadataUrl/metadataXml fields: the URL, else the XML, else
// none (a draft at creation).
function samlMetadata(v) {
  if (v.metadataUrl) return { metadataUrl: v.metadataUrl };
  if ((v.metadataXml || "").trim()) return { metadataXml: v.metadataXml };
  return {};
}

// A draft SAML connection: why sign-ins are refused, and the form that gives it its IdP metadata
// (checked as at creation; the connection becomes active when it is accepted).
function draftPanel(c, rerender) {
  return h("div", { "data-testid": "draft" },
    h("p", { class: "bad", text: "Draft: sign-ins are refused until the IdP's metadata is added. Paste the SP values above into your IdP, then give its metadata here." }),
    h("form", { id: `draft-metadata-${c.id}`, onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(e.target);
      const saml = samlMetadata(v);
      if (!saml.metadataUrl && !saml.metadataXml) return flash("Give the IdP metadata URL or paste its XML.", "error");
      if (await attempt(() => api("PUT", `/connections/${c.id}/settings`, { saml }), `${c.name} is active: its sign-ins work now.`)) rerender();
    } },
      h("label", {}, "IdP metadata URL", h("input", { name: "metadataUrl", type: "url", placeholder: "https://idp.example.com/metadata" })),
      h("label", {}, "…or paste the IdP metadata XML", h("textarea", { name: "metadataXml" })),
      h("button", { type: "submit", "data-testid": "add-metadata" }, "Add metadata and activate")));
}

// The checks of Test connection. A failed certificate check (expired, or the IdP signs with a
// certificate Roster does not have) offers the editor right there, to load the new metadata.
function testResults(result, openEditor) {
  const certificateTrouble = result.checks.some((c) => !c.ok && /certificate/.test(c.name));
  return h("div", { "data-testid": "test-result" },
    h("p", { class: result.ok ? "ok" : "bad", text: result.ok ? "All checks passed." : "Some checks failed:" }),
    certificateTrouble ? h("p", { class: "bad", "data-testid": "certificate-warning" },
      "The IdP's signing certificate expired or changed: load its new metadata. ",
      h("button", { class: "secondary", type: "button", onclick: openEditor }, "Edit connection")) : null,
    table(["Check", "Result", "Want", "Got"], result.checks.map((c) =>
      h("tr", {}, h("td", { text: c.name }), h("td", { class: c.ok ? "ok" : "bad", text: c.ok ? "ok" : "failed" }),
        h("td", { text: c.want }), h("td", { text: c.got })))));
}

function isExpired(token) {
  return Boolean(token.expiresAt) && new Date(token.expiresAt) <= new Date();
}

async function tokensPanel(connection, rerender) {
  const panel = h("div", {});
  if (connection.kind === "scim" || connection.scimEnabled) {
    const { tokens } = await api("GET", `/connections/${connection.id}/tokens`);
    panel.append(h("h2", { text: "SCIM tokens" }),
      table(["Name", "Hint", "Created", "Expires", "State", "Last used", ""], tokens.map((t) =>
        h("tr", { "data-testid": `token-${t.name}` }, h("td", { text: t.name }), h("td", { class: "mono", text: t.hint }),
          h("td", { text: when(t.createdAt) }), h("td", { text: t.expiresAt ? when(t.expiresAt) : "no expiry" }),
          // An expired token is refused like a revoked one: say so rather than list it as usable.
          isExpired(t) ? h("td", { class: "bad", "data-testid": "token-state", text: "expired" }) : h("td", { class: "ok", "data-testid": "token-state", text: "active" }),
          h("td", { text: when(t.lastUsedAt) }),
          h("td", {}, h("button", { class: "danger", onclick: async () => {
            const revoked = await afterConfirming({
              title: `Revoke the token ${t.name}?`,
              message: `The identity provider's SCIM requests with ${t.name} (${t.hint}…) are refused from now on, and provisioning stops until it has a new token. Generate the new token and paste it into the IdP first when you are rotating.`,
              confirm: "Revoke token",
            }, () => api("DELETE", `/connections/${connection.id}/tokens/${t.id}`), `Token ${t.name} revoked: requests with it are refused from now on.`);
            if (revoked !== undefined) rerender();
          } }, "Revoke"))))),
      h("form", { class: "inline", id: `new-token-${connection.id}`, onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const body = { name: v.name || "console" };
        if (v.expiresInDays) body.expiresInDays = Number(v.expiresInDays);
        const created = await attempt(() => api("POST", `/connections/${connection.id}/tokens`, body));
        if (!created) return;
        await rerender();
        flash("Copy the token now: it is shown only once.", "info");
        const shown = h("div", { class: "secret", "data-testid": "new-token", tabindex: "-1" },
          h("div", {}, "Token (shown once): ", h("code", { "data-testid": "token-value", text: created.token }), " ", copyButton(created.token, "copy-token")),
          h("div", {}, "SCIM base URL: ", h("code", { "data-testid": "token-base-url", text: created.scimBaseUrl }), " ", copyButton(created.scimBaseUrl)));
        document.getElementById(`connection-${connection.id}`).append(shown);
        // Below the fold on a page of several connections: bring it into view, and focus it.
        shown.scrollIntoView({ block: "center" });
        shown.focus({ preventScroll: true });
      } },
        h("label", {}, "Token name", h("input", { name: "name", placeholder: "entra-2026" })),
        h("label", {}, "Expires in days (optional)", h("input", { name: "expiresInDays", type: "number", min: "1" })),
        h("button", { type: "submit" }, "Generate token")));
  }
  return panel;
}

// Roster's own keys for a SAML connection (what signs its requests and decrypts its
// assertions). Before a certificate expires (the connection.certificate_expiring event), an
// admin adds a key, gives the IdP the new SP metadata, then retires the old key. Admins only: a
// setup session is refused the keys, and its card simply has no panel.
async function spKeysPanel(connection, rerender) {
  const panel = h("div", { "data-testid": "sp-keys" });
  if (connection.kind !== "saml") return panel;
  let keys;
  try {
    ({ keys } = await api("GET", `/connections/${connection.id}/sp-keys`));
  } catch (_) {
    return panel;
  }
  const published = keys.filter((k) => k.status === "published");
  const add = (use) => h("button", { class: "secondary", type: "button", "data-testid": `add-sp-key-${use}`, onclick: async () => {
    const added = await attempt(() => api("POST", `/connections/${connection.id}/sp-keys`, { use }),
      `A new ${use} key is published. Give the IdP the new SP metadata, then retire the old key.`);
    if (added !== undefined) rerender();
  } }, `Add ${use === "signing" ? "a signing" : "an encryption"} key`);
  panel.append(h("h2", { text: "Roster's keys for this connection" }),
    table(["Use", "Generation", "Expires", "", ""], published.map((k) =>
      h("tr", { "data-testid": `sp-key-${k.use}-${k.generation}` },
        h("td", { text: k.use }), h("td", { text: String(k.generation) }), h("td", { text: when(k.expiresAt) }),
        h("td", { class: "muted", text: k.signs ? "signs requests" : "" }),
        h("td", {}, published.filter((other) => other.use === k.use).length < 2 ? null : h("button", { class: "danger", "data-testid": "retire-sp-key", onclick: async () => {
          const retired = await afterConfirming({
            title: `Retire ${k.use} key ${k.generation}?`,
            message: `Its certificate leaves the SP metadata and its private key is erased. An IdP that still ${k.use === "signing" ? "verifies requests with" : "encrypts to"} it fails from then on: give the IdP the new metadata first.`,
            confirm: "Retire key",
          }, () => api("POST", `/connections/${connection.id}/sp-keys/${k.id}/retire`, { confirm: k.id }), `${k.use} key ${k.generation} retired.`);
          if (retired !== undefined) rerender();
        } }, "Retire"))))),
    h("div", { class: "inline" }, add("signing"), add("encryption")));
  return panel;
}

async function connectionCard(summary, rerender) {
  const c = await api("GET", `/connections/${summary.id}`);
  const sp = c.sp || {};
  const card = h("section", { class: "card", id: `connection-${c.id}`, "data-testid": `connection-${c.name}` },
    h("h2", {}, `${c.name} `, h("span", { class: "muted", text: `${c.kind.toUpperCase()} · ${c.vendor} · ${c.status}` })),
    h("div", { class: "kv" },
      copyRow("SP entity id", sp.entityId, "sp-entity-id"),
      copyRow("ACS URL", sp.acsUrl, "acs-url"),
      copyRow("SP metadata URL", sp.metadataUrl, "sp-metadata-url"),
      copyRow("Single Logout URL", sp.sloUrl, "slo-url"),
      copyRow("Redirect URI", sp.redirectUri, "redirect-uri"),
      copyRow("Login URL", sp.loginUrl, "login-url"),
      (c.kind === "scim" || c.scimEnabled) ? copyRow("SCIM base URL", sp.scimBaseUrl, "scim-base-url") : []),
    c.idp && c.idp.entityId ? h("p", { class: "muted", text: `IdP ${c.idp.entityId}, ${c.idp.signingCertificates} signing certificate(s)` }) : null,
    c.idp && c.idp.entityId ? h("p", { class: "muted", "data-testid": "saml-keys", text: `Encrypted assertions ${c.idp.assertionEncryption === "required" ? "required" : "accepted"} · requests ${c.idp.authnRequestsSigned ? "signed" : "unsigned"}` }) : null,
    certificateWarning(c),
    c.idp && c.idp.issuer ? h("p", { class: "muted", text: `Issuer ${c.idp.issuer}, client ${c.idp.clientId}` }) : null);
  if (c.status === "revoked") return card;
  if (c.status === "draft") {
    card.append(draftPanel(c, rerender));
    const steps = h("div", {});
    card.append(h("button", { class: "secondary", type: "button", "data-testid": "show-guide", onclick: () => {
      fill(steps, guidedSetup(() => rerender(), { guide: guideFor(c), connection: c }));
    } }, "Show the setup steps"), steps);
  }
  const results = h("div", {});
  const editor = h("div", {});
  const openEditor = () => {
    fill(editor, connectionEditor(c, rerender));
    editor.scrollIntoView({ block: "nearest" });
  };
  const controls = h("div", { class: "inline" });
  if (c.kind !== "scim") {
    controls.append(h("button", { class: "secondary", "data-testid": "test-connection", onclick: async () => {
      const result = await attempt(() => api("POST", `/connections/${c.id}/test`));
      results.replaceChildren(result ? testResults(result, openEditor) : "");
    } }, "Test connection"));
    if (c.status === "active") controls.append(testSignInButton(c));
  }
  controls.append(h("button", { class: "secondary", "data-testid": "edit-connection", onclick: openEditor }, "Edit connection"));
  if (c.kind !== "scim") {
    controls.append(h("label", {}, h("span", {}, h("input", { type: "checkbox", "data-testid": "scim-toggle", checked: c.scimEnabled, onchange: async (e) => {
      const on = e.target.checked;
      if (await attempt(() => api("PUT", `/connections/${c.id}/scim`, { enabled: on }), on ? "Provisioning with SCIM is on." : "Provisioning with SCIM is off.") === undefined) e.target.checked = !on;
      rerender();
    } }), " Automate provisioning with SCIM")));
  }
  controls.append(h("button", { class: "danger", onclick: async () => {
    const revoked = await afterConfirming({
      title: `Revoke the connection ${c.name}?`,
      message: `Sign-ins through ${c.name} stop at once, and so do its SCIM tokens. Its users, groups and logs stay. A revoked connection cannot be turned back on.`,
      confirm: "Revoke connection",
    }, () => api("DELETE", `/connections/${c.id}`), `${c.name} revoked.`);
    if (revoked !== undefined) rerender();
  } }, "Revoke connection"));
  card.append(controls, results, editor, await tokensPanel(c, rerender), await spKeysPanel(c, rerender), await attributeMappingsPanel(c));
  return card;
}

async function connections(view) {
  const render = async () => {
    const { connections: list } = await api("GET", "/connections");
    const cards = await Promise.all(list.map((c) => connectionCard(c, render)));
    fill(view, h("h1", { text: "Connections" }), ...cards,
      h("section", { class: "card" }, h("h2", { text: "New connection" }), guidedSetup(() => render())),
      h("section", { class: "card" }, h("h2", { text: "New connection, by hand" }), connectionForm(() => render())));
  };
  await render();
}

// --- Guided IdP setup ------------------------------------------------------------------------

// The steps of docs/idp-setup.md, one entry per IdP and protocol: the console shows them with
// this workspace's own values in place of the value names (`acs_url`, …), each with a Copy
// button. crates/admin/tests/idp_guides.rs checks that every entry's `where` and `steps` are its
// doc section's, word for word, so the page and the doc cannot drift apart. Strict JSON between
// the markers (the test parses it).
const IDP_GUIDES = /* idp-guides:begin */ [
  {
    "id": "entra-saml",
    "idp": "Microsoft Entra ID",
    "protocol": "saml",
    "vendor": "entra",
    "doc": "Microsoft Entra ID",
    "where": "Enterprise applications → New application → Create your own application → Non-gallery → Single sign-on → SAML",
    "gives": "Entra's App Federation Metadata Url (Single sign-on → SAML Certificates)",
    "steps": [
      "Basic SAML Configuration → Edit: **Identifier (Entity ID)** = `sp_entity_id`; **Reply URL (Assertion Consumer Service URL)** = `acs_url`; **Sign on URL** = `login_url`; Relay State and Logout URL empty. Save.",
      "Attributes & Claims: **Unique User Identifier (Name ID)** = `user.objectid` with format **Persistent** (stable across renames; `user.userprincipalname` with Email format also works). Keep the default claims `emailaddress` (`user.mail`), `givenname`, `surname`; add a group claim (Security groups, source attribute **Group ID**). Roster reads these claim URIs as they are. Above 150 groups Entra sends `groups.link` instead, which Roster treats as \"unknown\".",
      "Users and groups: assign who may sign in.",
      "SAML Certificates: copy the **App Federation Metadata Url** and give it to Roster. Entra rotates its signing certificate; the metadata URL is fetched again hourly and every certificate it lists is trusted."
    ]
  },
  {
    "id": "entra-oidc",
    "idp": "Microsoft Entra ID",
    "protocol": "oidc",
    "vendor": "entra",
    "doc": "Microsoft Entra ID",
    "where": "App registrations → New registration",
    "gives": "the issuer, the Application (client) ID and the client secret's Value",
    "steps": [
      "**Supported account types**: accounts in this organizational directory only. **Redirect URI**: platform **Web**, `redirect_uri` (Roster shows it once the connection is created: add it then).",
      "Certificates & secrets → **New client secret**: copy its **Value** (not its Secret ID).",
      "Token configuration → **Add optional claim** (ID token): `email`, `given_name`, `family_name`, `preferred_username` and `xms_edov` (Entra sends no `email_verified`; Roster reads `xms_edov` in its place); **Add groups claim** (Security groups, **Group ID**). Overage is \"unknown\".",
      "Overview: the issuer is `https://login.microsoftonline.com/<tenant id>/v2.0` (tenant-specific: `/common` is refused, its discovery names another issuer); the client id is the **Application (client) ID**."
    ]
  },
  {
    "id": "okta-saml",
    "idp": "Okta",
    "protocol": "saml",
    "vendor": "okta",
    "doc": "Okta",
    "where": "Applications → Create App Integration → SAML 2.0",
    "gives": "Okta's Metadata URL (the application's Sign On tab)",
    "steps": [
      "General Settings: **App name** Roster → Next.",
      "Configure SAML: **Single sign-on URL** = `acs_url` (\"Use this for Recipient URL and Destination URL\" checked); **Audience URI (SP Entity ID)** = `sp_entity_id`; **Default RelayState** empty; **Name ID format** = `Persistent` (or `EmailAddress`); **Application username** = Okta username.",
      "Attribute Statements: `email` = `user.email`, `givenName` = `user.firstName`, `surname` = `user.lastName` (optional `uid` = `user.login`, `displayName` = `user.displayName`). Group Attribute Statements: `groups`, filter *Matches regex* `.*` (or a prefix). Next → Finish.",
      "Assignments: assign the people and groups who may sign in.",
      "Sign On tab → **Metadata URL** (`https://<org>.okta.com/app/<app id>/sso/saml/metadata`): give it to Roster."
    ]
  },
  {
    "id": "okta-oidc",
    "idp": "Okta",
    "protocol": "oidc",
    "vendor": "okta",
    "doc": "Okta",
    "where": "Applications → Create App Integration → OIDC - OpenID Connect, Web Application",
    "gives": "the issuer, the Client ID and the Client secret",
    "steps": [
      "**Grant type** Authorization Code; **Sign-in redirect URIs** = `redirect_uri` (Roster shows it once the connection is created: add it then); **Sign-out redirect URIs** empty; Assignments: who may sign in. Save.",
      "General → Client Credentials: client authentication **Client secret**; copy the **Client ID** and the **Client secret**.",
      "Sign On → OpenID Connect ID Token → **Groups claim type** Filter, name `groups`, *Matches regex* `.*`.",
      "The issuer is `https://<org>.okta.com` (the org authorization server) or `https://<org>.okta.com/oauth2/default`."
    ]
  },
  {
    "id": "google-saml",
    "idp": "Google Workspace",
    "protocol": "saml",
    "vendor": "google",
    "doc": "Google Workspace",
    "where": "Admin console → Apps → Web and mobile apps → Add app → Add custom SAML app",
    "gives": "the metadata file Google let you download (paste its XML)",
    "steps": [
      "App details: **App name** Roster → Continue.",
      "Google Identity Provider details: **Download Metadata** (Google offers no metadata URL: paste the file's XML into Roster) → Continue.",
      "Service provider details: **ACS URL** = `acs_url`; **Entity ID** = `sp_entity_id`; **Start URL** = `login_url`; leave **Signed response** as it is (Google signs the assertion either way); **Name ID format** = `EMAIL`, **Name ID** = *Basic Information > Primary email* → Continue.",
      "Attribute mapping: *Primary email* → `email`, *First name* → `givenName`, *Last name* → `surname`; under **Group membership (optional)**, the Google groups to send, with **App attribute** `groups` (Google sends only those of the listed groups the user belongs to) → Finish.",
      "User access: **ON for everyone**, or on for the organizational units or groups who may sign in (a change can take a few minutes, at most 24 hours, to apply).",
      "Google's **Test SAML login** starts an IdP-initiated login, which Roster refuses unless the connection allows IdP-initiated logins: test the sign-in from Roster instead."
    ]
  },
  {
    "id": "onelogin-saml",
    "idp": "OneLogin",
    "protocol": "saml",
    "vendor": "onelogin",
    "doc": "OneLogin",
    "where": "Applications → Add App → \"SAML Custom Connector (Advanced)\", or \"SCIM Provisioner with SAML (SCIM v2 Enterprise)\" to provision through it as well",
    "gives": "OneLogin's Issuer URL (the SSO tab)",
    "steps": [
      "Configuration: **Audience (EntityID)** = `sp_entity_id`; **Recipient** = `acs_url`; **ACS (Consumer) URL Validator** = `acs_url_regex` (the ACS URL with regex characters escaped, e.g. `^https:\\/\\/roster\\.example\\.com\\/sso\\/saml\\/<id>\\/acs$`); **ACS (Consumer) URL** = `acs_url`; **Login URL** = `login_url`; **SAML nameID format** = Persistent (or Email); **SAML signature element** = Both (Response or Assertion is enough).",
      "Parameters: `email` (Email), `givenName` (First Name), `surname` (Last Name), and `groups` (e.g. User Roles or a group field, \"Include in SAML assertion\", multi-value).",
      "Users (or Access): assign who may sign in.",
      "SSO tab → **Issuer URL** (`https://<subdomain>.onelogin.com/saml/metadata/<app id>`): the IdP metadata URL to give Roster."
    ]
  },
  {
    "id": "onelogin-oidc",
    "idp": "OneLogin",
    "protocol": "oidc",
    "vendor": "onelogin",
    "doc": "OneLogin",
    "where": "Applications → Add App → \"OpenId Connect (OIDC)\"",
    "gives": "the issuer, the Client ID and the Client Secret",
    "steps": [
      "Configuration → **Redirect URI's** = `redirect_uri` (Roster shows it once the connection is created: add it then).",
      "SSO tab: **Token Endpoint** Authentication Method *Basic* (or *POST*, then choose `client_secret_post` in Roster); copy the **Client ID** and the **Client Secret**.",
      "Parameters: add a `groups` parameter included in the ID token (or served by userinfo) if you map groups.",
      "The issuer is `https://<subdomain>.onelogin.com/oidc/2`."
    ]
  },
  {
    "id": "jumpcloud-saml",
    "idp": "JumpCloud",
    "protocol": "saml",
    "vendor": "generic",
    "doc": "JumpCloud",
    "where": "Admin Portal → SSO Applications → Add New Application → Custom Application → Manage Single Sign-On (SSO) → Configure SSO with SAML",
    "gives": "JumpCloud's metadata URL (Copy Metadata URL) or the exported metadata XML",
    "steps": [
      "SSO tab: **IdP Entity ID** = a name of your choice, e.g. `jumpcloud-roster` (JumpCloud's own entity ID); **SP Entity ID** = `sp_entity_id`; **ACS URLs** → **Default URL** = `acs_url`.",
      "**SAMLSubject NameID** = `email`, **SAMLSubject NameID Format** = `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress` (or `urn:oasis:names:tc:SAML:2.0:nameid-format:persistent`); **Signature Algorithm** = `RSA-SHA256`; sign the Assertion (or the Response); **Login URL** = `login_url`.",
      "**Attributes** → User Attributes: `email` = `email`, `givenName` = `firstname`, `surname` = `lastname`; check **Include group attribute**, named `memberOf`, to send the user's JumpCloud groups.",
      "User Groups tab: bind the groups whose users may sign in. Activate (later: Save).",
      "SSO tab → **Copy Metadata URL** and give it to Roster (or **Export Metadata** and paste the downloaded XML)."
    ]
  },
  {
    "id": "adfs-saml",
    "idp": "AD FS",
    "protocol": "saml",
    "vendor": "generic",
    "doc": "AD FS",
    "where": "AD FS Management → Relying Party Trusts → Add Relying Party Trust… → Claims aware",
    "gives": "the AD FS federation metadata URL (or its XML)",
    "steps": [
      "Select Data Source: **Import data about the relying party published online or on a local network**, Federation metadata address = `metadata_url` (or **Enter data about the relying party manually**: Configure URL → **Enable support for the SAML 2.0 WebSSO protocol**, Relying party SAML 2.0 SSO service URL = `acs_url`; Configure Identifiers → Relying party trust identifier = `sp_entity_id`).",
      "Specify Display Name: Roster. Choose Access Control Policy: **Permit everyone**, or a policy that permits only the groups who may sign in. Finish.",
      "Edit Claim Issuance Policy → Add Rule → **Send LDAP Attributes as Claims**, attribute store Active Directory: *E-Mail-Addresses* → *E-Mail Address*, *Given-Name* → *Given Name*, *Surname* → *Surname*, *Token-Groups - Unqualified Names* → type `groups` as the outgoing claim type.",
      "Add Rule → **Transform an Incoming Claim**: incoming claim type *UPN*, outgoing claim type *Name ID*, outgoing name ID format **Persistent Identifier** (or incoming *E-Mail Address* with format **Email**).",
      "A trust imported from `metadata_url` has Roster's encryption certificate (the trust's Properties → Encryption), so AD FS encrypts its assertions (RSA-OAEP, AES-256) and Roster decrypts them; a trust entered by hand sends them unencrypted, which works too. Keep **Secure hash algorithm** SHA-256 (Properties → Advanced).",
      "The IdP metadata URL is `https://<AD FS host>/FederationMetadata/2007-06/FederationMetadata.xml` (paste the file's XML instead when Roster cannot reach AD FS). AD FS rolls its token-signing certificate: a metadata URL is fetched again hourly."
    ]
  },
  {
    "id": "pingfederate-saml",
    "idp": "PingFederate",
    "protocol": "saml",
    "vendor": "generic",
    "doc": "PingFederate",
    "where": "administrative console → Applications → Integration → SP Connections → Create Connection",
    "gives": "PingFederate's metadata URL for this connection (or the exported XML)",
    "steps": [
      "Connection Template: **Do not use a template for this connection**; Connection Type: **Browser SSO Profiles**, protocol **SAML 2.0**; Connection Options: **Browser SSO**.",
      "Import Metadata: **URL**, `metadata_url` (or **None**, and type the values below). General Info: **Partner's Entity ID (Connection ID)** = `sp_entity_id`; **Connection Name** Roster.",
      "Browser SSO → Configure Browser SSO: SAML Profiles **SP-Initiated SSO**. Assertion Creation → Identity Mapping **Standard**; Attribute Contract: `SAML_SUBJECT` with the subject name format `urn:oasis:names:tc:SAML:2.0:nameid-format:persistent`, extended with `email`, `givenName`, `surname` and `groups`; in the IdP Adapter Mapping, fill `SAML_SUBJECT` from a stable id (the directory's `objectGUID` or `entryUUID`), `email` from `mail`, `groups` from `memberOf`.",
      "Protocol Settings: Assertion Consumer Service URL, binding **POST**, endpoint URL = `acs_url`; Allowable SAML Bindings **POST**; Signature Policy: the response is signed by default (or **Always sign the SAML Assertion**); Encryption Policy **None**, or **The entire assertion** with Roster's encryption certificate (from `metadata_url`) and AES-256 with RSA-OAEP.",
      "Credentials → Digital Signature Settings: the signing certificate, algorithm RSA SHA256. Activation & Summary: Connection Status **Active** → Save.",
      "The IdP metadata URL is `https://<PingFederate host>:9031/pf/federation_metadata.ping?PartnerSpId=<the SP entity ID, percent-encoded>`, or export the XML from System → Protocol Metadata → Metadata Export."
    ]
  },
  {
    "id": "generic-saml",
    "idp": "Other SAML 2.0 IdP",
    "protocol": "saml",
    "vendor": "generic",
    "doc": "Any other SAML 2.0 IdP",
    "where": "a new SAML application, service provider or relying party in your IdP",
    "gives": "the IdP's metadata URL or XML",
    "steps": [
      "Give it Roster's SP metadata URL `metadata_url`, or the entity ID `sp_entity_id` and the ACS URL `acs_url` (HTTP-POST binding); SP-initiated logins start at `login_url`.",
      "NameID format persistent; attributes `email` (or `mail`), `givenName`, `surname` (or `sn`) and, to map groups, `groups` (or `memberOf`): the LDAP and `urn:oid:` names work as they are.",
      "Sign the response or the assertion (RSA or ECDSA, SHA-256 or stronger). Encrypting the assertion is optional: to Roster's encryption certificate (in `metadata_url`), with RSA-OAEP and AES (GCM or CBC), never RSA PKCS#1 v1.5.",
      "Give Roster the IdP's metadata, its URL or its XML (metadata without a signing certificate is refused). IdP-initiated logins are refused unless the connection allows them."
    ]
  },
  {
    "id": "generic-oidc",
    "idp": "Other OpenID Provider",
    "protocol": "oidc",
    "vendor": "generic",
    "doc": "Any other OpenID Provider",
    "where": "a new client in your OpenID Provider",
    "gives": "the issuer, the client id and the client secret",
    "steps": [
      "Register a confidential web client: redirect URI = `redirect_uri` (Roster shows it once the connection is created: add it then), grant type authorization code, PKCE allowed, scopes `openid email profile` (and `groups` if the OP knows it).",
      "Send `email_verified: true` for verified addresses, and the groups as a `groups` array if you map them.",
      "Give Roster the issuer (discovery at `<issuer>/.well-known/openid-configuration` must name the same issuer), the client id and the client secret."
    ]
  }
] /* idp-guides:end */;

// The value names a step may hold in backticks, and where a connection view has each.
const GUIDE_VALUES = {
  sp_entity_id: (sp) => sp.entityId,
  acs_url: (sp) => sp.acsUrl,
  acs_url_regex: (sp) => (sp.acsUrl ? `^${sp.acsUrl.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$` : null),
  metadata_url: (sp) => sp.metadataUrl,
  redirect_uri: (sp) => sp.redirectUri,
  login_url: (sp) => sp.loginUrl,
  scim_base_url: (sp) => sp.scimBaseUrl,
};

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

// One step's text as nodes: **bold**, *italic*, `code`; a value name in backticks becomes this
// connection's value with a Copy button (or says when it appears, before the connection exists).
function guideText(text, sp) {
  const out = [];
  for (const part of text.split(/(\*\*[^*]+\*\*|`[^`]+`|\*[^*]+\*)/)) {
    if (!part) continue;
    if (part.startsWith("**")) out.push(h("b", { text: part.slice(2, -2) }));
    else if (part.startsWith("`")) {
      const name = part.slice(1, -1);
      const value = name in GUIDE_VALUES ? GUIDE_VALUES[name](sp || {}) : undefined;
      if (value) out.push(h("span", { class: "value" }, h("code", { "data-testid": `value-${name}`, text: value }), " ", copyButton(value, `copy-${name}`)));
      else if (name in GUIDE_VALUES) out.push(h("span", { class: "muted", "data-testid": `value-${name}`, text: "(shown once the connection is created)" }));
      else out.push(h("code", { text: name }));
    } else if (part.startsWith("*") && part.length > 2) out.push(h("i", { text: part.slice(1, -1) }));
    else out.push(part);
  }
  return out;
}

function guideSteps(guide, sp) {
  return h("ol", { class: "steps", "data-testid": "guide-steps" },
    guide.steps.map((step) => h("li", { "data-testid": "guide-step" }, guideText(step, sp))));
}

// "New connection", guided: pick the IdP, then its numbered steps with this workspace's values,
// then the form for what the IdP gives back. A SAML connection is created as a draft first (its
// SP values exist before the IdP asks for them) and activated by its metadata; an OIDC one is
// created from the issuer, client id and secret, and then shows its redirect URI in the steps.
// `activated(connection)` runs once the connection accepts sign-ins.
function guidedSetup(activated, start = null) {
  const box = h("div", { class: "guided", "data-testid": "guided-setup" });
  const idps = [...new Set(IDP_GUIDES.map((g) => g.idp))];
  const pick = () => fill(box,
    h("p", { class: "muted", text: "Which identity provider do your users sign in with? Roster shows its steps with this workspace's values to paste." }),
    h("div", { class: "picker" }, idps.map((idp) => h("button", { type: "button", class: "secondary", "data-testid": `pick-${slug(idp)}`,
      onclick: () => show(IDP_GUIDES.find((g) => g.idp === idp)) }, idp))));
  const show = (guide, connection = null) => {
    const alternatives = IDP_GUIDES.filter((g) => g.idp === guide.idp);
    const sp = connection ? connection.sp : null;
    fill(box,
      h("h3", { "data-testid": "guide-title", text: `${guide.idp} (${guide.protocol.toUpperCase()})` }),
      h("div", { class: "inline" },
        alternatives.length > 1 && !connection ? alternatives.map((g) => h("button", { type: "button", class: g === guide ? "" : "secondary",
          "data-testid": `protocol-${g.protocol}`, onclick: () => show(g) }, g.protocol.toUpperCase())) : null,
        connection ? null : h("button", { type: "button", class: "secondary", onclick: pick }, "Another identity provider")),
      h("p", { class: "muted", "data-testid": "guide-where", text: `${guide.idp}: ${guide.where}.` }),
      guide.protocol === "saml" ? samlGuide(guide, connection, (c) => show(guide, c)) : null,
      guideSteps(guide, sp),
      guide.protocol === "saml" && connection ? samlGivesBack(guide, connection) : null,
      guide.protocol === "oidc" ? oidcGivesBack(guide, connection, (c) => show(guide, c)) : null);
  };
  // Name and domains of the draft; creating it fills the steps with its values.
  const samlGuide = (guide, connection, created) => {
    if (connection) return h("p", { "data-testid": "guide-connection", text: `Connection ${connection.name}: ${connection.status}. Paste these values into ${guide.idp}:` });
    return h("form", { class: "inline", "data-testid": "guide-start", onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(e.target);
      const body = { name: v.name, kind: "saml", vendor: guide.vendor, domains: v.domains ? v.domains.split(/[\s,]+/).filter(Boolean) : [] };
      const draft = await attempt(() => api("POST", "/connections", body), `Connection ${v.name} created as a draft: paste its values into ${guide.idp}, then give Roster what ${guide.idp} gives back.`);
      if (!draft) return;
      rememberGuide(draft, guide);
      created(draft);
    } },
      h("label", {}, "Connection name", h("input", { name: "name", required: true, value: guide.id.split("-")[0] })),
      h("label", {}, "Email domains", h("input", { name: "domains", placeholder: "example.com" })),
      h("button", { type: "submit", "data-testid": "guide-create" }, "Show my values"));
  };
  const samlGivesBack = (guide, connection) => h("form", { class: "editor", "data-testid": "guide-metadata", onsubmit: async (e) => {
    e.preventDefault();
    const saml = samlMetadata(formValues(e.target));
    if (!saml.metadataUrl && !saml.metadataXml) return flash("Give the IdP metadata URL or paste its XML.", "error");
    const active = await attempt(() => api("PUT", `/connections/${connection.id}/settings`, { saml }), `${connection.name} is active: its sign-ins work now.`);
    if (active) activated(active);
  } },
    h("h3", { text: `What ${guide.idp} gives back` }),
    h("p", { class: "muted", text: `Give Roster ${guide.gives}.` }),
    h("label", {}, "IdP metadata URL", h("input", { name: "metadataUrl", type: "url", placeholder: "https://idp.example.com/metadata" })),
    h("label", {}, "…or paste the IdP metadata XML", h("textarea", { name: "metadataXml" })),
    h("button", { type: "submit", "data-testid": "guide-activate" }, "Add metadata and activate"));
  const oidcGivesBack = (guide, connection, created) => {
    if (connection) {
      return h("div", {},
        h("p", { class: "ok", "data-testid": "guide-connection", text: `Connection ${connection.name} is ${connection.status}. Paste its redirect URI into ${guide.idp} (step with the redirect URI above), then test the sign-in.` }),
        h("button", { type: "button", "data-testid": "guide-done", onclick: () => activated(connection) }, "Done"));
    }
    return h("form", { class: "editor", "data-testid": "guide-oidc", onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(e.target);
      const body = { name: v.name, kind: "oidc", vendor: guide.vendor, domains: v.domains ? v.domains.split(/[\s,]+/).filter(Boolean) : [],
        oidc: { issuer: v.issuer, clientId: v.clientId, clientSecret: v.clientSecret, tokenAuthMethod: v.tokenAuthMethod } };
      const made = await attempt(() => api("POST", "/connections", body), `Connection ${v.name} created: paste its redirect URI into ${guide.idp}.`);
      if (made) created(made);
    } },
      h("h3", { text: `What ${guide.idp} gives back` }),
      h("p", { class: "muted", text: `Give Roster ${guide.gives}.` }),
      h("div", { class: "inline" },
        h("label", {}, "Connection name", h("input", { name: "name", required: true, value: guide.id.split("-")[0] })),
        h("label", {}, "Email domains", h("input", { name: "domains", placeholder: "example.com" }))),
      h("label", {}, "Issuer", h("input", { name: "issuer", type: "url", required: true })),
      h("label", {}, "Client id", h("input", { name: "clientId", required: true })),
      h("label", {}, "Client secret", h("input", { name: "clientSecret", type: "password", autocomplete: "off", required: true })),
      h("label", {}, "Token endpoint authentication", h("select", { name: "tokenAuthMethod" },
        h("option", { value: "client_secret_basic" }, "client_secret_basic"), h("option", { value: "client_secret_post" }, "client_secret_post"))),
      h("button", { type: "submit", "data-testid": "guide-create" }, "Create connection"));
  };
  if (start) show(start.guide, start.connection);
  else pick();
  return box;
}

// Which guide a draft was started with (JumpCloud, AD FS and PingFederate share the generic
// vendor), kept in this browser to show the same steps when the admin comes back to it.
function rememberGuide(connection, guide) {
  try {
    localStorage.setItem(`roster.guide.${connection.id}`, guide.id);
  } catch {
    // No storage: guideFor falls back to the vendor's guide.
  }
}

// The guide of a connection that exists (a draft to finish): the one it was started with, else
// by its vendor and kind, else the generic one of its kind.
function guideFor(connection) {
  let started = null;
  try {
    started = localStorage.getItem(`roster.guide.${connection.id}`);
  } catch {
    started = null;
  }
  return IDP_GUIDES.find((g) => g.id === started && g.protocol === connection.kind)
    || IDP_GUIDES.find((g) => g.vendor === connection.vendor && g.protocol === connection.kind && g.vendor !== "generic")
    || IDP_GUIDES.find((g) => g.id === `generic-${connection.kind}`);
}

// --- Test sign-in --------------------------------------------------------------------------

// Starts a test sign-in: the browser goes to the IdP and back to `/admin#test/{id}`, where the
// report says what arrived and what Roster would do (no user, session or login is written). The
// connection's id is kept for the way back (the report's URL names both).
async function startTestSignIn(connection) {
  const started = await attempt(() => api("POST", `/connections/${connection.id}/test-sign-in`));
  if (!started) return;
  try {
    sessionStorage.setItem(`roster.test.${started.id}`, connection.id);
  } catch {
    // No storage: the report page looks the connection up instead.
  }
  location.assign(started.url);
}

function testSignInButton(connection) {
  return h("button", { class: "secondary", "data-testid": "test-sign-in", onclick: () => startTestSignIn(connection) }, "Test sign-in");
}

const OUTCOMES = {
  create: "create a new user",
  link: "link the sign-in to an existing user",
  sign_in: "sign the existing user in",
  refuse: "refuse the sign-in",
};

// The report of a test sign-in: what arrived from the IdP, what Roster would do, and the checks.
async function testReport(view, testId) {
  let connectionId = null;
  try {
    connectionId = sessionStorage.getItem(`roster.test.${testId}`);
  } catch {
    connectionId = null;
  }
  let test = null;
  if (connectionId) test = await api("GET", `/connections/${connectionId}/test-sign-ins/${encodeURIComponent(testId)}`);
  else {
    const { connections: list } = await api("GET", "/connections");
    for (const c of list.filter((c) => c.kind !== "scim")) {
      try {
        test = await api("GET", `/connections/${c.id}/test-sign-ins/${encodeURIComponent(testId)}`);
        connectionId = c.id;
        break;
      } catch (err) {
        if (err.status !== 404) throw err;
      }
    }
    if (!test) throw new Error("No test sign-in with this id: start one from a connection's Test sign-in button.");
  }
  const connection = await api("GET", `/connections/${connectionId}`);
  const r = test.report;
  fill(view,
    h("h1", { text: `Test sign-in through ${connection.name}` }),
    test.status !== "completed" || !r
      ? h("p", { class: "muted", "data-testid": "test-status" },
        test.status === "expired" ? "This test expired before a sign-in came back: start another. " : "Waiting for the sign-in to come back from the IdP… ",
        test.status === "expired" ? null : h("button", { class: "secondary", onclick: () => testReport(view, testId) }, "Look again"))
      : h("div", { "data-testid": "test-report" },
        h("section", { class: "card" },
          h("h2", { text: "What Roster would do" }),
          h("p", { class: r.outcome === "refuse" ? "bad" : "ok", "data-testid": "test-outcome" },
            `Roster would ${OUTCOMES[r.outcome] || r.outcome}`, r.reason ? ` (${r.reason})` : "", "."),
          h("p", { "data-testid": "test-message", text: r.message }),
          r.existingUserId ? h("p", {}, "Existing user: ", h("a", { href: `#user/${r.existingUserId}`, text: r.existingUserId })) : null,
          h("p", { class: "muted", text: "Nothing was written: no user, no session, no sign-in." })),
        h("section", { class: "card" },
          h("h2", { text: "What arrived" }),
          h("div", { class: "kv" }, [["Subject", r.subject], ["Email", r.email], ["userName", r.userName], ["Display name", r.displayName]].flatMap(([label, value]) => [
            h("span", { class: "muted", text: label }), h("code", { "data-testid": `arrived-${slug(label)}`, text: value || "none" }), h("span", {})])),
          h("h3", { text: "Groups" }),
          (r.groups || []).length ? h("ul", {}, r.groups.map((g) => h("li", { class: "mono", text: g }))) : h("p", { class: "muted", text: "No group arrived." }),
          h("h3", { text: "Attributes" }),
          table(["Name", "Values"], Object.entries(r.attributes || {}).map(([name, values]) =>
            h("tr", {}, h("td", { class: "mono", text: name }), h("td", { class: "mono", text: (values || []).join(", ") }))))),
        customAttributesCard(r),
        h("h2", { text: "Checks" }),
        table(["Check", "Result", "Want", "Got"], (r.checks || []).map((c) =>
          h("tr", {}, h("td", { text: c.name }), h("td", { class: c.ok ? "ok" : "bad", text: c.ok ? "ok" : "failed" }),
            h("td", { class: "mono", text: c.want }), h("td", { class: "mono", text: c.got }))))),
    // In setup mode the step lists each connection with its Test sign-in button below.
    session.setup ? null : h("div", { class: "inline" }, testSignInButton(connection), h("a", { href: "#connections" }, "Back to connections")));
}

// The workspace's custom attributes in a test sign-in's report: for each, the source that gave
// a value (or the sources looked at) and what a sign-in would store, or why it cannot; then the
// names the IdP sent that nothing maps, which is what an admin maps next.
function customAttributesCard(r) {
  const mapped = r.mappedAttributes || [];
  const unmapped = r.unmappedAttributes || [];
  if (!mapped.length && !unmapped.length) return null;
  const stored = (a) => {
    if (a.warning) return h("span", { class: "bad", text: `not stored: ${a.warning}` });
    if (a.value === null || a.value === undefined) return h("span", { class: "muted", text: "nothing arrived" });
    return h("code", { text: typeof a.value === "string" ? a.value : JSON.stringify(a.value) });
  };
  return h("section", { class: "card", "data-testid": "test-custom-attributes" },
    h("h2", { text: "Custom attributes" }),
    mapped.length
      ? table(["Attribute", "Source", "Received", "Stored"], mapped.map((a) =>
        h("tr", { "data-testid": `test-attribute-${a.name}` },
          h("td", { class: "mono", text: a.name }),
          h("td", { class: "mono", text: a.source || (a.sources.length ? `none of ${a.sources.join(", ")}` : "not mapped") }),
          h("td", { class: "mono", text: (a.received || []).join(", ") }),
          h("td", {}, stored(a)))))
      : h("p", { class: "muted", text: "The workspace declares no custom attributes." }),
    h("h3", { text: "Sent by the IdP, mapped to nothing" }),
    unmapped.length
      ? h("ul", { "data-testid": "test-unmapped" }, unmapped.map((name) => h("li", { class: "mono", text: name })))
      : h("p", { class: "muted", text: "Everything the IdP sent is read." }));
}

// --- Domains -------------------------------------------------------------------------------

// What the last DNS check of a domain found, as a sentence.
function describeCheck(d) {
  const found = {
    found: "the record is published",
    wrong: `a TXT record is at ${d.record.name} but holds another value`,
    missing: `no TXT record at ${d.record.name}`,
    unreachable: "DNS did not answer; Roster will try again",
  };
  if (!d.lastCheck) return "not checked yet";
  return `${found[d.lastCheck] || d.lastCheck} (${when(d.lastCheckedAt)})`;
}

function recordRows(record) {
  return h("div", { class: "kv", "data-testid": "domain-record" },
    h("span", { class: "muted", text: "Type" }), h("code", { text: record.type }), h("span", {}),
    copyRow("Name", record.name, "record-name"),
    copyRow("Value", record.value, "record-value"));
}

// The workspace's email domains: each proved by a TXT record before it routes sign-ins or links
// accounts by email. Add one (the record to publish is shown with Copy buttons), check it now,
// delete it after a confirmation.
async function domains(view) {
  const { domains: list } = await api("GET", "/domains");
  const reload = () => domains(view);
  const added = h("div", {});
  fill(view,
    h("h1", { text: "Domains" }),
    h("p", { class: "muted", text: "A domain counts once it is verified: only then do sign-ins with its addresses find this workspace and link existing users by email. Publish the TXT record at the domain's DNS host; Roster checks it in the background, or now with Check now." }),
    list.length ? table(["Domain", "State", "Last check", "TXT record to publish", ""], list.map((d) =>
      h("tr", { "data-testid": `domain-${d.domain}` },
        h("td", { class: "mono nowrap", text: d.domain }),
        h("td", { class: d.state === "verified" ? "ok" : d.state === "failed" ? "bad" : "", "data-testid": "domain-state", text: d.state }),
        h("td", { "data-testid": "domain-check" }, describeCheck(d),
          d.state === "pending" && d.nextCheckAt ? h("div", { class: "muted", text: `next check ${when(d.nextCheckAt)}` }) : null),
        h("td", {}, recordRows(d.record)),
        h("td", {},
          h("button", { class: "secondary", "data-testid": "check-domain", onclick: async () => {
            const checked = await attempt(() => api("POST", `/domains/${encodeURIComponent(d.domain)}/verify`));
            if (!checked) return;
            await reload();
            flash(checked.state === "verified" ? `${d.domain} is verified.` : `${d.domain}: ${describeCheck(checked)}.`, checked.state === "verified" ? "info" : "error");
          } }, "Check now"),
          " ",
          // A setup session adds and checks domains; deleting one is a workspace admin's.
          session.setup ? null : h("button", { class: "danger", "data-testid": "delete-domain", onclick: async () => {
            const deleted = await afterConfirming({
              title: `Delete the domain ${d.domain}?`,
              message: `Sign-ins with ${d.domain} addresses stop finding this workspace, and its connections stop linking existing users by email, at once. Adding it again gives it a new record to publish.`,
              confirm: "Delete domain",
            }, () => api("DELETE", `/domains/${encodeURIComponent(d.domain)}`), `${d.domain} deleted.`);
            if (deleted !== undefined) reload();
          } }, "Delete")))))
      : h("p", { class: "muted", "data-testid": "no-domains", text: "No domain yet." }),
    added,
    h("section", { class: "card" }, h("h2", { text: "Add a domain" }),
      h("form", { class: "inline", id: "new-domain", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const made = await attempt(() => api("POST", "/domains", { domain: v.domain }));
        if (!made) return;
        await reload();
        flash(`Publish this TXT record at ${made.domain}'s DNS host, then Check now.`, "info");
        view.append(h("section", { class: "card secret", "data-testid": "new-domain-record" },
          h("h2", { text: `Publish this record for ${made.domain}` }), recordRows(made.record)));
      } },
        h("label", {}, "Domain", h("input", { name: "domain", required: true, placeholder: "example.com" })),
        h("button", { type: "submit", "data-testid": "add-domain" }, "Add domain"))));
}

// --- Users and groups ----------------------------------------------------------------------

function actionButton(label, permission, onclick) {
  if (permission && !permission.allowed) {
    return h("span", { class: "muted", "data-testid": "refusal", title: permission.refusal, text: `${label}: ${permission.reason}` });
  }
  return h("button", { class: "secondary", onclick }, label);
}

// Enable, or Disable after a confirmation, as the policy allows for this user (its refusal shown
// in place of the button: one's own account, the last active admin, a SCIM-managed user).
function lifecycleButton(u, reload) {
  if (!u.active) {
    return actionButton("Enable", u.actions.enable, async () => {
      if (await attempt(() => api("POST", `/users/${u.id}/enable`), `${u.userName} enabled.`)) reload();
    });
  }
  return actionButton("Disable", u.actions.disable, async () => {
    const disabled = await afterConfirming({
      title: `Disable ${u.userName}?`,
      message: `Every session and app sign-in of ${u.userName} ends at once, and ${u.userName} cannot sign in until an admin enables the account again.`,
      confirm: "Disable user",
    }, () => api("POST", `/users/${u.id}/disable`), `${u.userName} disabled.`);
    if (disabled) reload();
  });
}

// The users, searched by user name, email or display name and filtered by a custom attribute's
// value (`GET /users?attribute=NAME&value=VALUE`, which the API types as an edit would: text
// without case, 4 and 4.0 alike, any element of a list). Filtered, the table shows that
// attribute's values.
async function users(view, filters = {}, after = null) {
  const { q = "", attribute = "", value = "" } = filters;
  const params = new URLSearchParams({ limit: "50" });
  if (q) params.set("q", q);
  if (attribute) {
    params.set("attribute", attribute);
    params.set("value", value);
  }
  if (after) params.set("after", after);
  const [page, { attributes: declared }] = await Promise.all([api("GET", `/users?${params}`), api("GET", "/attributes")]);
  const reload = () => users(view, filters, after);
  const filtered = attribute ? declared.find((a) => a.name === attribute) : null;
  fill(view,
    h("h1", { text: "Users" }),
    // A filter the API refuses (no such value for a number, say) says why in the banner.
    h("form", { class: "inline", id: "user-search", onsubmit: (e) => {
      e.preventDefault();
      flash("");
      attempt(() => users(view, formValues(e.target)));
    } },
      h("label", {}, "Search user name or email", h("input", { name: "q", value: q })),
      declared.length ? [
        h("label", {}, "Attribute", h("select", { name: "attribute" }, h("option", { value: "" }, "(any)"),
          declared.map((a) => h("option", { value: a.name, selected: a.name === attribute }, a.label)))),
        h("label", {}, "has the value", h("input", { name: "value", value })),
      ] : null,
      h("button", { type: "submit" }, "Search")),
    table(["User name", "Email", filtered ? filtered.label : null, "Source", "Status", "Actions"].filter((t) => t !== null), page.users.map((u) =>
      h("tr", { "data-testid": `user-${u.userName}` }, h("td", {}, h("a", { href: `#user/${u.id}`, "data-testid": "open-user", text: u.userName })), h("td", { text: u.email || "" }),
        filtered ? h("td", { "data-testid": "filtered-value", text: showValue(filtered, (u.attributes || {})[filtered.name]) }) : null,
        h("td", { text: u.source + (u.managedBy ? " (SCIM-managed)" : "") }), h("td", { text: u.lifecycle, class: u.active ? "ok" : "bad" }),
        h("td", {}, lifecycleButton(u, reload))))),
    page.users.length || !(q || attribute) ? null : h("p", { class: "muted", "data-testid": "no-users", text: "No user matches." }),
    page.next ? h("button", { class: "secondary", onclick: () => users(view, filters, page.next) }, "Next page") : null,
    h("section", { class: "card" }, h("h2", { text: "Invite a user" }),
      h("form", { class: "inline", id: "invite", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        if (await attempt(() => api("POST", "/users", { email: v.email }), `${v.email} invited.`)) reload();
      } }, h("label", {}, "Email", h("input", { name: "email", type: "email", required: true })), h("button", { type: "submit" }, "Invite"))));
}

// The user's page: who they are, the apps they are signed into through Roster (each live grant;
// never a token), and "Sign out everywhere", which asks for confirmation in the page first.
async function user(view, id) {
  const [u, { apps }, { attributes: declared }] = await Promise.all([api("GET", `/users/${encodeURIComponent(id)}`),
    api("GET", `/users/${encodeURIComponent(id)}/apps`), api("GET", "/attributes")]);
  const reload = () => user(view, id);
  const lifecycle = lifecycleButton(u, reload);
  const confirmBox = h("div", { class: "confirm", "data-testid": "confirm-sign-out", hidden: true });
  const signOut = async () => {
    const ended = await attempt(() => api("POST", `/users/${u.id}/sign-out-everywhere`));
    if (!ended) return;
    if (session.userId === u.id) {
      location.href = "/admin"; // the admin signed themselves out: sign in again
      return;
    }
    await reload();
    const count = ended.appsSignedOut.length;
    flash(`${u.userName} is signed out everywhere: every Roster session ended, ${count} app sign-in${count === 1 ? "" : "s"} revoked.`, "info");
    view.append(h("section", { class: "card", "data-testid": "signed-out-result" },
      h("h2", { text: "Signed out" }),
      h("p", { text: "Every Roster session ended." }),
      count ? table(["App", "Client id", "Signed in"], ended.appsSignedOut.map((a) =>
        h("tr", { "data-testid": "signed-out-app" }, h("td", { text: a.appName }), h("td", { class: "mono", text: a.clientId }), h("td", { text: when(a.since) }))))
        : h("p", { class: "muted", text: "No app sign-in was live." })));
  };
  const askToConfirm = () => {
    const count = apps.length;
    confirmBox.replaceChildren(
      h("p", { text: `Sign ${u.userName} out everywhere? Every Roster session of ${u.userName} ends and ${count} app sign-in${count === 1 ? "" : "s"} ${count === 1 ? "is" : "are"} revoked: refresh tokens stop and the apps lose access. ${u.userName} stays active and can sign in again.` }),
      h("div", { class: "inline" },
        h("button", { class: "danger", "data-testid": "confirm-sign-out-yes", onclick: signOut }, "Yes, sign out everywhere"),
        h("button", { class: "secondary", "data-testid": "cancel-sign-out", onclick: () => { confirmBox.hidden = true; } }, "Cancel")));
    confirmBox.hidden = false;
  };
  const permission = u.actions.signOutEverywhere;
  fill(view,
    h("h1", { "data-testid": "user-name", text: u.userName }),
    h("section", { class: "card" },
      h("div", { class: "kv" },
        h("span", { class: "muted", text: "Email" }), h("span", { text: u.email || "none" }), h("span", {}),
        h("span", { class: "muted", text: "Source" }), h("span", { text: u.source + (u.managedBy ? " (SCIM-managed)" : "") }), h("span", {}),
        h("span", { class: "muted", text: "Status" }), h("span", { class: u.active ? "ok" : "bad", text: u.lifecycle }), lifecycle)),
    await userAttributes(u, declared, reload),
    h("h2", { text: "Signed-in apps" }),
    h("p", { class: "muted", text: "Products this user signed into through Roster. Each row is one sign-in (a browser or device)." }),
    apps.length
      ? table(["App", "Client id", "Scopes", "Offline access", "Signed in"], apps.map((a) =>
        h("tr", { "data-testid": "signed-in-app" }, h("td", { "data-testid": "app-name", text: a.appName }), h("td", { class: "mono", text: a.clientId }),
          h("td", { text: a.scopes.join(" ") }), h("td", { text: a.offline ? "yes (refresh token)" : "no" }), h("td", { text: when(a.since) }))))
      : h("p", { class: "muted", "data-testid": "no-apps", text: "Not signed into any app." }),
    h("section", { class: "card" },
      h("h2", { text: "Sign out everywhere" }),
      h("p", { class: "muted", text: "For a lost device or a session you no longer trust: ends every Roster session of this user and revokes every app sign-in, without disabling the user." }),
      permission && !permission.allowed
        ? actionButton("Sign out everywhere", permission)
        : h("button", { class: "danger", "data-testid": "sign-out-everywhere", onclick: askToConfirm }, "Sign out everywhere…"),
      confirmBox));
}

async function groups(view, query = "", after = null) {
  const params = new URLSearchParams({ limit: "50" });
  if (query) params.set("q", query);
  if (after) params.set("after", after);
  const page = await api("GET", `/groups?${params}`);
  fill(view,
    h("h1", { text: "Groups" }),
    h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); groups(view, formValues(e.target).q); } },
      h("label", {}, "Search", h("input", { name: "q", value: query })), h("button", { type: "submit" }, "Search")),
    table(["Name", "Kind", "External id", "Mapped"], page.groups.map((g) =>
      h("tr", { "data-testid": `group-${g.displayName}` }, h("td", { text: g.displayName }), h("td", { text: g.kind }),
        h("td", { class: "mono", text: g.externalId || "" }), h("td", { text: g.mapped ? "yes" : "no" })))),
    page.next ? h("button", { class: "secondary", onclick: () => groups(view, query, page.next) }, "Next page") : null);
}

// --- Mappings and the migration planner ----------------------------------------------------

// Every group of the workspace (the listing pages by 1000), for the mapping form's lists.
async function allGroups() {
  const out = [];
  let after = null;
  do {
    const params = new URLSearchParams({ limit: "1000" });
    if (after) params.set("after", after);
    const page = await api("GET", `/groups?${params}`);
    out.push(...page.groups);
    after = page.next;
  } while (after);
  return out;
}

async function mappings(view) {
  const [{ mappings: list }, { connections: conns }, { roles }, groupList] = await Promise.all([
    api("GET", "/scim/group-mappings"), api("GET", "/connections"), api("GET", "/roles"), allGroups()]);
  const reload = () => mappings(view);
  // A mapping belongs to a connection that has SCIM on; with one such connection it is chosen.
  const scimConnections = conns.filter((c) => c.status === "active" && c.scimEnabled);
  const appGroups = groupList.filter((g) => g.kind === "app");
  const idpGroups = groupList.filter((g) => g.kind === "idp");
  const newGroupName = h("label", { hidden: true }, "New app group name", h("input", { name: "newGroupName" }));
  // "New app group…" reveals a name field (the API creates the group with the mapping).
  const wantsNewGroup = () => Boolean(groupSelect.selectedOptions[0] && groupSelect.selectedOptions[0].dataset.new);
  const groupSelect = h("select", { name: "groupName", onchange: () => { newGroupName.hidden = !wantsNewGroup(); } },
    h("option", { value: "" }, "(none)"),
    appGroups.map((g) => h("option", { value: g.displayName }, g.displayName)),
    h("option", { value: "", "data-new": "yes" }, "New app group…"));
  const idpGroupName = (m) => m.scimGroupDisplayName || m.scimGroupName || m.scimGroupId;
  fill(view,
    h("h1", { text: "Group mappings" }),
    h("p", { class: "muted", text: "An IdP group (by its stable id, or by name until it is first pushed) gives its members a role and/or an app group." }),
    table(["IdP group", "Connection", "Role", "App group", ""], list.map((m) =>
      h("tr", { "data-testid": `mapping-${m.scimGroupName || m.scimGroupId}` },
        h("td", { "data-testid": "mapping-idp-group" }, idpGroupName(m), m.scimGroupId ? null : h("span", { class: "muted", text: " (waiting for the group)" })),
        h("td", { "data-testid": "mapping-connection", text: m.connectionName || m.connectionId }),
        h("td", { "data-testid": "mapping-role", text: m.roleName || "" }),
        h("td", { "data-testid": "mapping-app-group", text: m.groupName || "" }),
        h("td", {}, h("button", { class: "danger", onclick: async () => {
          const group = idpGroupName(m);
          const deleted = await afterConfirming({
            title: `Delete the mapping of ${group}?`,
            message: `Members of ${group} lose what it gives them at once${m.roleName ? `: the role ${m.roleName}` : ""}${m.groupId ? `${m.roleName ? " and" : ":"} their membership of ${m.groupName || "its app group"}` : ""}.`,
            confirm: "Delete mapping",
          }, () => api("DELETE", `/scim/group-mappings/${m.id}`), "Mapping deleted.");
          if (deleted !== undefined) reload();
        } }, "Delete"))))),
    h("section", { class: "card" }, h("h2", { text: "Add a mapping" }),
      scimConnections.length ? h("form", { class: "inline", id: "new-mapping", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const body = { scimGroupName: v.scimGroupName, connectionId: v.connectionId };
        if (v.roleName) body.roleName = v.roleName;
        const groupName = wantsNewGroup() ? v.newGroupName : v.groupName;
        if (groupName) body.groupName = groupName;
        if (await attempt(() => api("POST", "/scim/group-mappings", body), "Mapping added; roles are recomputed now.")) reload();
      } },
        h("label", {}, "Connection", h("select", { name: "connectionId", required: true },
          scimConnections.map((c) => h("option", { value: c.id }, c.name)))),
        h("label", {}, "IdP group name", h("input", { name: "scimGroupName", required: true, list: "idp-group-names", autocomplete: "off" })),
        h("datalist", { id: "idp-group-names" }, idpGroups.map((g) => h("option", { value: g.displayName }))),
        h("label", {}, "Role", h("select", { name: "roleName" }, h("option", { value: "" }, "(no role)"),
          roles.map((r) => h("option", { value: r.name }, r.name)))),
        h("label", {}, "App group", groupSelect),
        newGroupName,
        h("button", { type: "submit" }, "Add mapping"))
        : h("p", { class: "muted", "data-testid": "no-scim-connection", text: "Turn on “Automate provisioning with SCIM” for a connection first: a mapping maps the groups that connection pushes." })));
}

// The roles page: every role of the workspace with its rank (the highest a user holds is their
// primary role) and how many users hold it, directly or through mapped groups.
async function rolesView(view) {
  const [{ roles }, { rules }, { attributes: declared }] = await Promise.all([api("GET", "/roles"),
    api("GET", "/attribute-role-rules"), api("GET", "/attributes")]);
  fill(view,
    h("h1", { text: "Roles" }),
    h("p", { class: "muted", text: "A user holds a role directly, through a group mapping or by a rule below; the highest-ranked role a user holds is their primary role. Users no role reaches hold the default role." }),
    table(["Role", "Rank", "Users", ""], roles.map((r) =>
      h("tr", { "data-testid": `role-${r.name}` }, h("td", { text: r.name }), h("td", { "data-testid": "role-rank", text: r.rank }),
        h("td", { "data-testid": "role-users", text: r.userCount }), h("td", { class: "muted", text: r.isDefault ? "default role" : "" })))),
    h("p", { class: "muted" }, "Give a role to the members of an IdP group on the ", h("a", { href: "#mappings" }, "Mappings"), " page."),
    h("section", { class: "card" }, h("h2", { text: "New role" }),
      h("form", { class: "inline", id: "new-role", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const body = { name: v.name, rank: Number(v.rank || 0) };
        if (await attempt(() => api("POST", "/roles", body), `Role ${v.name} created.`)) rolesView(view);
      } },
        h("label", {}, "Name", h("input", { name: "name", required: true })),
        h("label", {}, "Rank (higher wins as the primary role)", h("input", { name: "rank", type: "number", value: "0" })),
        h("button", { type: "submit", "data-testid": "create-role" }, "Create role"))),
    attributeRulesCard(view, roles, rules, declared));
}

// The roles granted by attribute values (`/attribute-role-rules`): the rules, each deleted after
// a confirmation, and a form to add one. A rule never gives admin, so admin is not offered.
function attributeRulesCard(view, roles, rules, declared) {
  const grantable = roles.filter((r) => r.name !== "admin");
  return h("section", { class: "card", "data-testid": "attribute-rules" }, h("h2", { text: "Roles from attributes" }),
    h("p", { class: "muted", text: "A rule gives a role to every user whose attribute has a value, e.g. department = Finance gives finance-viewer. Roles follow the values: a SCIM update, a login or an edit that changes a user's value changes their roles at once. Values compare as a SCIM filter does (text without case unless the attribute is case-exact; any element of a list). A rule never gives admin." }),
    rules.length ? table(["Attribute", "Value", "Role", ""], rules.map((rule) =>
      h("tr", { "data-testid": `attribute-rule-${rule.attribute}-${rule.value}` },
        h("td", { class: "mono", text: rule.attribute }), h("td", { "data-testid": "rule-value", text: rule.value }),
        h("td", { "data-testid": "rule-role", text: rule.roleName }),
        h("td", {}, h("button", { class: "danger", "data-testid": "delete-attribute-rule", onclick: async () => {
          const deleted = await afterConfirming({
            title: `Delete the rule ${rule.attribute} = ${rule.value}?`,
            message: `The users it matches lose the role ${rule.roleName}, unless a group mapping, another rule or a direct grant gives it to them.`,
            confirm: "Delete rule",
          }, () => api("DELETE", `/attribute-role-rules/${rule.id}`), `Rule ${rule.attribute} = ${rule.value} deleted.`);
          if (deleted !== undefined) rolesView(view);
        } }, "Delete")))))
      : h("p", { class: "muted", "data-testid": "no-attribute-rules", text: "No rule yet." }),
    declared.length ? h("form", { class: "inline", id: "new-attribute-rule", onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(e.target);
      const body = { attribute: v.attribute, value: v.value, roleName: v.roleName };
      if (await attempt(() => api("POST", "/attribute-role-rules", body), `Rule ${v.attribute} = ${v.value} added.`)) rolesView(view);
    } },
      h("label", {}, "Attribute", h("select", { name: "attribute" }, declared.map((a) => h("option", { value: a.name }, a.label)))),
      h("label", {}, "Value", h("input", { name: "value", required: true, autocomplete: "off" })),
      h("label", {}, "Role", h("select", { name: "roleName" }, grantable.map((r) => h("option", { value: r.name }, r.name)))),
      h("button", { type: "submit", "data-testid": "create-attribute-rule" }, "Add rule"))
      : h("p", { class: "muted" }, "Declare an attribute first, on the ", h("a", { href: "#attributes" }, "Attributes"), " page."));
}

// --- Custom attributes ---------------------------------------------------------------------

const ATTRIBUTE_TYPES = {
  string: "text",
  number: "number",
  boolean: "yes or no",
  string_list: "list of text",
  user_ref: "a user of the workspace",
};

// A value as a person reads it: a list joined by commas, a boolean as yes or no; none is "".
// (A user reference is shown by `userRef`, which links the user.)
function showValue(attribute, value) {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (attribute.type === "boolean") return value ? "yes" : "no";
  return String(value);
}

// A user reference: the referenced user's name, linked to their page (the id when the user
// cannot be read).
async function userRef(id) {
  let name = id;
  try {
    name = (await api("GET", `/users/${encodeURIComponent(id)}`)).userName;
  } catch {
    name = id;
  }
  return h("a", { href: `#user/${id}`, text: name });
}

// The user page's Attributes: each declared attribute's value (label: value), and the editor
// (`PUT /users/{id}/attributes`, one typed input per attribute) where the policy allows editing
// the profile; a user the IdP manages through SCIM shows the values read-only, with the reason.
async function userAttributes(u, declared, reload) {
  const values = u.attributes || {};
  const box = h("section", { class: "card", "data-testid": "user-attributes" }, h("h2", { text: "Attributes" }));
  if (!declared.length) {
    box.append(h("p", { class: "muted" }, "The workspace declares no custom attribute: declare them on the ", h("a", { href: "#attributes" }, "Attributes"), " page."));
    return box;
  }
  const shown = await Promise.all(declared.map(async (a) => {
    const value = values[a.name];
    const text = value === undefined ? h("span", { class: "muted", text: "none" })
      : a.type === "user_ref" ? await userRef(value) : showValue(a, value);
    return [h("span", { class: "muted", text: a.label }), h("span", { "data-testid": `attribute-value-${a.name}` }, text), h("span", {})];
  }));
  box.append(h("div", { class: "kv" }, shown.flat()));
  const permission = u.actions.editProfile;
  if (permission && !permission.allowed) {
    box.append(h("p", { "data-testid": "attribute-refusal" }, actionButton("Edit attributes", permission)));
    return box;
  }
  const editor = h("div", {});
  box.append(h("button", { class: "secondary", "data-testid": "edit-attributes", onclick: () => {
    fill(editor, attributeEditor(u, declared, reload));
    editor.scrollIntoView({ block: "nearest" });
  } }, "Edit attributes"), editor);
  return box;
}

// One typed input per declared attribute, holding the user's value as text: a number input, a
// yes/no select, a list as comma-separated text, a user reference by user id. Only what changed
// is sent; an emptied field clears the value (null).
function attributeEditor(u, declared, reload) {
  const values = u.attributes || {};
  const asText = (a) => {
    const value = values[a.name];
    if (value === undefined || value === null) return "";
    if (Array.isArray(value)) return value.join(", ");
    return String(value);
  };
  const input = (a) => {
    const current = asText(a);
    const testid = `attribute-input-${a.name}`;
    if (a.type === "boolean") {
      return h("select", { name: a.name, "data-testid": testid },
        [["", "(none)"], ["true", "yes"], ["false", "no"]].map(([value, label]) => h("option", { value, selected: value === current }, label)));
    }
    if (a.type === "number") return h("input", { name: a.name, type: "number", step: "any", value: current, "data-testid": testid });
    if (a.type === "string_list") return h("input", { name: a.name, value: current, placeholder: "one, two, three", "data-testid": testid });
    if (a.type === "user_ref") return h("input", { name: a.name, value: current, class: "mono", placeholder: "user id", "data-testid": testid });
    return h("input", { name: a.name, value: current, "data-testid": testid });
  };
  return h("form", { class: "editor", id: "attribute-editor", onsubmit: async (e) => {
    e.preventDefault();
    const v = formValues(e.target);
    const changed = {};
    for (const a of declared) {
      const text = v[a.name] || "";
      if (text === asText(a)) continue;
      if (!text) changed[a.name] = null;
      else if (a.type === "string_list") changed[a.name] = text.split(",").map((item) => item.trim()).filter(Boolean);
      else changed[a.name] = text;
    }
    if (!Object.keys(changed).length) return flash("Nothing changed.", "info");
    if (await attempt(() => api("PUT", `/users/${u.id}/attributes`, { attributes: changed }), `${u.userName}'s attributes saved.`)) reload();
  } },
    h("h3", { text: `Edit ${u.userName}'s attributes` }),
    h("p", { class: "muted", text: "Each value is checked against its type. An emptied field clears the value; a list is comma-separated; a user is given by their id." }),
    h("div", { class: "inline" }, declared.map((a) => h("label", {}, `${a.label} (${ATTRIBUTE_TYPES[a.type] || a.type})`, input(a)))),
    h("div", { class: "inline" },
      h("button", { type: "submit", "data-testid": "save-attributes" }, "Save attributes"),
      h("button", { type: "button", class: "secondary", onclick: (e) => { e.target.closest("form").remove(); } }, "Cancel")));
}

// The workspace's custom attributes: the declared ones (deleted after a confirmation, their
// values with them), a standard one added from its template, or one of its own declared by name
// and type.
async function attributesView(view) {
  const [{ attributes: list }, { templates }] = await Promise.all([api("GET", "/attributes"), api("GET", "/attributes/templates")]);
  const reload = () => attributesView(view);
  const undeclared = templates.filter((t) => !t.declared);
  fill(view,
    h("h1", { text: "Attributes" }),
    h("p", { class: "muted", text: "What the workspace keeps about each user besides the name and email: department, title, cost centre, or its own. Products read each by its name in tokens, events and /api/v1/me, so a name never changes; each connection says where its IdP sends each (on its card)." }),
    list.length ? table(["Name", "Label", "Type", "SCIM extension", "Released to apps", "Standard", ""], list.map((a) =>
      h("tr", { "data-testid": `attribute-${a.name}` },
        h("td", { class: "mono", text: a.name }), h("td", { text: a.label }),
        h("td", { "data-testid": "attribute-type", text: `${a.type}${a.caseExact ? " (case-exact)" : ""}` }),
        h("td", { class: "mono", text: a.scimSchema || "" }),
        h("td", { text: a.released ? "yes" : "no" }),
        h("td", { text: a.standard ? "yes" : "no" }),
        h("td", {}, h("button", { class: "danger", "data-testid": "delete-attribute", onclick: async () => {
          const deleted = await afterConfirming({
            title: `Delete the attribute ${a.name}?`,
            message: `Its values are removed from every user at once (each such user gets a user.updated event), and products stop receiving ${a.name}. Declaring it again starts empty.`,
            confirm: "Delete attribute",
          }, () => api("DELETE", `/attributes/${a.id}`), `Attribute ${a.name} deleted.`);
          if (deleted !== undefined) reload();
        } }, "Delete")))))
      : h("p", { class: "muted", "data-testid": "no-attributes", text: "No attribute declared yet." }),
    h("section", { class: "card" }, h("h2", { text: "Add a standard attribute" }),
      undeclared.length ? h("form", { class: "inline", id: "new-standard-attribute", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        if (await attempt(() => api("POST", "/attributes", { template: v.template }), `Attribute ${v.template} declared.`)) reload();
      } },
        h("label", {}, "Standard attribute", h("select", { name: "template" },
          undeclared.map((t) => h("option", { value: t.template }, `${t.label} (${t.template}, ${ATTRIBUTE_TYPES[t.type] || t.type})`)))),
        h("button", { type: "submit", "data-testid": "add-standard-attribute" }, "Add"))
        : h("p", { class: "muted", text: "Every standard attribute is declared." })),
    h("section", { class: "card" }, h("h2", { text: "Declare a custom attribute" }),
      h("form", { id: "new-attribute", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const body = { name: v.name, type: v.type, caseExact: Boolean(v.caseExact), released: Boolean(v.released) };
        if (v.label) body.label = v.label;
        if (v.scimSchema) body.scimSchema = v.scimSchema;
        if (await attempt(() => api("POST", "/attributes", body), `Attribute ${v.name} declared.`)) reload();
      } },
        h("div", { class: "inline" },
          h("label", {}, "Name (never changes)", h("input", { name: "name", required: true, placeholder: "costCenterCode", autocomplete: "off" })),
          h("label", {}, "Label", h("input", { name: "label", placeholder: "Cost centre code" })),
          h("label", {}, "Type", h("select", { name: "type" }, Object.entries(ATTRIBUTE_TYPES).map(([type, label]) => h("option", { value: type }, type === label ? type : `${type} (${label})`))))),
        h("div", { class: "inline" },
          h("label", { class: "check" }, h("input", { type: "checkbox", name: "caseExact", value: "yes" }), " Case-exact (text compares with its case)"),
          h("label", { class: "check" }, h("input", { type: "checkbox", name: "released", value: "yes", checked: true }), " Released to apps by the OpenID Provider")),
        h("label", {}, "SCIM extension (optional URN: the IdP writes it as URN:name)",
          h("input", { name: "scimSchema", placeholder: "urn:acme:params:scim:schemas:extension:hr:2.0:User" })),
        h("div", {}, h("button", { type: "submit", "data-testid": "declare-attribute" }, "Declare attribute")))));
}

// A connection's attribute mappings: for each attribute, where its IdP sends it for the login
// protocol and, while SCIM is on, for SCIM, and the origin of that (a badge: custom, default,
// extension, none). One mapping at a time is edited: its sources, comma-separated (first with a
// value wins; empty maps nothing), or back to the default.
async function attributeMappingsPanel(connection) {
  const panel = h("div", { "data-testid": "attribute-mappings" });
  const scim = connection.kind === "scim" || connection.scimEnabled;
  const render = async () => {
    const { mappings: all } = await api("GET", `/connections/${connection.id}/attribute-mappings`);
    const list = all.filter((m) => m.protocol !== "scim" || scim);
    if (!list.length) {
      fill(panel);
      return;
    }
    const editor = h("div", {});
    const edit = (m) => fill(editor, h("form", { class: "editor", "data-testid": "mapping-editor", onsubmit: async (e) => {
      e.preventDefault();
      const sources = formValues(e.target).sources.split(",").map((source) => source.trim()).filter(Boolean);
      const set = await attempt(() => api("PUT", `/connections/${connection.id}/attribute-mappings/${m.attributeId}`, { protocol: m.protocol, sources }),
        `${connection.name}: ${m.attribute} over ${m.protocol.toUpperCase()} comes from ${sources.length ? sources.join(", ") : "nowhere"} from the next ${m.protocol === "scim" ? "SCIM write" : "login"}.`);
      if (set) render();
    } },
      h("h3", { text: `Where ${connection.name} sends ${m.attribute} (${m.protocol.toUpperCase()})` }),
      h("label", {}, m.protocol === "scim" ? "SCIM paths, comma-separated (first with a value wins; empty maps nothing)"
        : m.protocol === "oidc" ? "Claim paths, comma-separated (first with a value wins; empty maps nothing)"
          : "SAML attribute names, comma-separated (first with a value wins; empty maps nothing)",
      h("input", { name: "sources", value: m.sources.join(", "), class: "mono", autocomplete: "off" })),
      h("div", { class: "inline" },
        h("button", { type: "submit", "data-testid": "save-mapping" }, "Save mapping"),
        m.origin === "custom" ? h("button", { type: "button", class: "secondary", "data-testid": "reset-mapping", onclick: async () => {
          const reset = await attempt(() => api("PUT", `/connections/${connection.id}/attribute-mappings/${m.attributeId}`, { protocol: m.protocol, sources: null }),
            `${connection.name}: ${m.attribute} over ${m.protocol.toUpperCase()} is back to its default.`);
          if (reset) render();
        } }, "Reset to default") : null,
        h("button", { type: "button", class: "secondary", onclick: () => fill(editor) }, "Cancel"))));
    fill(panel,
      h("h2", { text: "Attribute mappings" }),
      table(["Attribute", "Protocol", "Sources", "Origin", ""], list.map((m) =>
        h("tr", { "data-testid": `attribute-mapping-${m.attribute}-${m.protocol}` },
          h("td", { class: "mono", text: m.attribute }), h("td", { text: m.protocol.toUpperCase() }),
          h("td", { class: "mono", "data-testid": "mapping-sources" }, m.sources.length ? m.sources.join(", ") : h("span", { class: "muted", text: "not mapped" })),
          h("td", {}, h("span", { class: `badge ${m.origin}`, "data-testid": "mapping-origin", text: m.origin })),
          h("td", {}, h("button", { class: "secondary", "data-testid": "edit-mapping", onclick: () => edit(m) }, "Edit"))))),
      editor);
  };
  await render();
  return panel;
}

async function migration(view, format = "email") {
  const plan = await api("GET", `/scim/migration-plan?userNameFormat=${format}`);
  fill(view,
    h("h1", { text: "SCIM migration planner" }),
    h("p", { class: "muted", text: "Before turning SCIM on: existing JIT and invited users whose userName or email would collide with what the IdP is likely to push. Fix the conflicts first." }),
    h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); migration(view, formValues(e.target).format); } },
      h("label", {}, "The IdP sends userName as", h("select", { name: "format" },
        h("option", { value: "email", selected: format === "email" }, "the email (Entra UPN, Okta login)"),
        h("option", { value: "local_part", selected: format === "local_part" }, "the part before @"))),
      h("button", { type: "submit" }, "Re-plan")),
    h("section", { class: "card" },
      h("span", { class: "stat" }, h("b", { text: plan.examined }), "users examined"),
      h("span", { class: "stat" }, h("b", { class: "ok", text: plan.adoptable }), "will be adopted"),
      h("span", { class: "stat" }, h("b", { class: "bad", "data-testid": "plan-conflicts", text: plan.conflicts }), "conflicts"),
      h("span", { class: "stat" }, h("b", { text: plan.warnings }), "warnings")),
    table(["User", "Email", "Finding", "Expected userName", "Fix"], plan.findings.filter((f) => f.severity !== "ok").map((f) =>
      h("tr", {}, h("td", { text: f.userName }), h("td", { text: f.email || "" }), h("td", { class: f.severity === "conflict" ? "bad" : "", text: f.kind }),
        h("td", { class: "mono", text: f.expectedUserName || "" }), h("td", { text: f.fix })))));
}

// --- Logs and webhooks ---------------------------------------------------------------------

async function logs(view, filters = { connection: "", outcome: "" }) {
  const provQuery = new URLSearchParams({ limit: "50" });
  if (filters.connection) provQuery.set("connection", filters.connection);
  const loginQuery = new URLSearchParams({ limit: "50" });
  if (filters.outcome) loginQuery.set("outcome", filters.outcome);
  const [prov, logins, { connections: conns }] = await Promise.all([
    api("GET", `/provisioning-log?${provQuery}`), api("GET", `/login-events?${loginQuery}`), api("GET", "/connections")]);
  fill(view,
    h("h1", { text: "Logs" }),
    h("p", {}, "The audit trail (every change, who made it): ", h("a", { href: "#audit" }, "view"), ", or export as ",
      h("a", { href: `${API}/audit?format=csv`, download: "roster-audit.csv" }, "CSV"), " · ",
      h("a", { href: `${API}/audit?format=json`, target: "_blank" }, "JSON")),
    h("form", { class: "inline", id: "log-filters", onsubmit: (e) => { e.preventDefault(); logs(view, formValues(e.target)); } },
      h("label", {}, "Provisioning log of", h("select", { name: "connection" }, h("option", { value: "" }, "every connection"),
        conns.map((c) => h("option", { value: c.id, selected: c.id === filters.connection }, c.name)))),
      h("label", {}, "Login events", h("select", { name: "outcome" },
        [["", "all outcomes"], ["failure", "failures only"], ["success", "successes only"]].map(([value, label]) =>
          h("option", { value, selected: value === filters.outcome }, label)))),
      h("button", { type: "submit" }, "Filter")),
    h("h2", { text: "Provisioning log (SCIM requests)" }),
    table(["When", "Connection", "Request", "Target", "Status", "Duration", "Error"], prov.entries.map((e) =>
      h("tr", { "data-testid": "provisioning-entry" }, h("td", { text: when(e.at) }),
        h("td", { text: (conns.find((c) => c.id === e.connectionId) || {}).name || e.connectionId }),
        h("td", { class: "mono", "data-testid": "provisioning-request", text: `${e.method} ${e.path}${e.query ? `?${readableQuery(e.query)}` : ""}` }),
        h("td", { class: "mono", "data-testid": "provisioning-target" }, provisioningTarget(e)),
        h("td", { class: e.status >= 400 ? "bad" : "ok", text: e.status }), h("td", { text: `${Math.round(e.durationUs / 100) / 10} ms` }),
        h("td", { text: [e.error, ...(e.warnings || []).map((w) => describeDetail(w))].filter(Boolean).join(" · ") })))),
    h("h2", { text: "Login events" }),
    table(["When", "Protocol", "Outcome", "Reason", "Detail", "Email"], logins.events.map((e) =>
      h("tr", { "data-testid": "login-event" }, h("td", { text: when(e.at) }), h("td", { text: e.protocol }), h("td", { class: e.outcome === "success" ? "ok" : "bad", text: e.outcome }),
        h("td", { text: e.reason || "" }), h("td", { class: "mono", "data-testid": "login-detail", text: describeDetail(e.detail) }), h("td", { text: e.email || "" })))));
}

// A query string as a person reads it: `filter=userName eq "ann"`, not its percent-encoding (as
// sent when it does not decode).
function readableQuery(query) {
  try {
    return decodeURIComponent(query.replace(/\+/g, " "));
  } catch {
    return query;
  }
}

// What a SCIM request acted on: a user (linked to their page) or a group, by id.
function provisioningTarget(entry) {
  if (!entry.resourceId) return "";
  if (entry.path.includes("/Users")) return h("a", { href: `#user/${entry.resourceId}`, text: `user ${entry.resourceId}` });
  if (entry.path.includes("/Groups")) return `group ${entry.resourceId}`;
  return entry.resourceId;
}

// The audit trail, newest first, a page at a time: who changed what, and how.
async function audit(view, before = null) {
  const params = new URLSearchParams({ order: "desc", limit: "100" });
  if (before !== null && before !== undefined) params.set("before", before);
  const { events } = await api("GET", `/audit?${params}`);
  const detail = (value) => (value && typeof value === "object" && Object.keys(value).length ? JSON.stringify(value) : "");
  fill(view,
    h("h1", { text: "Audit trail" }),
    h("p", { class: "muted" }, "Every change to the workspace and who made it, newest first. Export the whole trail as ",
      h("a", { href: `${API}/audit?format=csv`, download: "roster-audit.csv" }, "CSV"), " or ",
      h("a", { href: `${API}/audit?format=json`, target: "_blank" }, "JSON"), "."),
    table(["#", "When", "Actor", "Action", "Target", "Detail"], events.map((e) =>
      h("tr", { "data-testid": "audit-event" }, h("td", { text: e.seq }), h("td", { text: when(e.at) }),
        h("td", { class: "mono", text: e.actorId ? `${e.actorKind} ${e.actorId}` : e.actorKind }),
        h("td", { "data-testid": "audit-action", text: e.action }), h("td", { class: "mono", text: `${e.targetKind} ${e.targetId}` }),
        h("td", { class: "mono", text: detail(e.detail) })))),
    events.length === 100 ? h("button", { class: "secondary", onclick: () => audit(view, events[events.length - 1].seq) }, "Older events") : null);
}

// Workspace settings: SSO enforcement (the policy's answer decides whether the control works,
// and its reason is shown when it does not) and the admin API keys, each revocable.
async function settings(view) {
  const [enforcement, { apiKeys }] = await Promise.all([api("GET", "/sso-enforcement"), api("GET", "/api-keys")]);
  const reload = () => settings(view);
  const change = enforcement.change;
  const toggle = h("input", { type: "checkbox", "data-testid": "sso-enforcement", checked: enforcement.ssoEnforced, disabled: !change.allowed, onchange: async () => {
    const on = toggle.checked;
    const request = () => api("PUT", "/sso-enforcement", { enforced: on });
    const done = on
      ? await afterConfirming({
        title: "Require SSO for every sign-in?",
        message: "Password sign-ins of this workspace's users are refused from now on, admins' included: everyone signs in through the identity provider.",
        confirm: "Enforce SSO",
      }, request, "SSO is enforced: password sign-ins are refused.")
      : await attempt(request, "SSO is no longer enforced: password sign-ins work again.");
    if (done === undefined) toggle.checked = !on;
  } });
  fill(view,
    h("h1", { text: "Settings" }),
    h("section", { class: "card" },
      h("h2", { text: "Single sign-on enforcement" }),
      h("p", { class: "muted", text: "When SSO is enforced, this workspace's users cannot sign in with a password: everyone signs in through the identity provider." }),
      h("label", { class: "check" }, h("span", {}, toggle, " Require SSO for every sign-in")),
      h("p", { "data-testid": "sso-enforcement-state", text: enforcement.ssoEnforced ? "SSO is enforced." : "SSO is not enforced: password sign-ins are allowed." }),
      change.allowed ? null : h("p", { class: "muted", "data-testid": "sso-enforcement-reason",
        text: `You cannot change this from this session: ${change.reason}. Enforcing SSO needs a session signed in through SSO, so the admin who turns it on has proved the SSO sign-in works and cannot lock themselves out.` })),
    h("section", { class: "card" },
      h("h2", { text: "Admin API keys" }),
      h("p", { class: "muted" }, "Keys that scripts use to call the admin API. A key is shown only when the operator creates it (",
        h("code", { text: "roster api-key create" }), "); a leaked key can be revoked here."),
      apiKeys.length ? table(["Name", "Hint", "Created", "Last used", ""], apiKeys.map((k) =>
        h("tr", { "data-testid": `api-key-${k.name}` }, h("td", { text: k.name }), h("td", { class: "mono", text: `${k.hint}…` }),
          h("td", { text: when(k.createdAt) }), h("td", { text: when(k.lastUsedAt) }),
          h("td", {}, h("button", { class: "danger", onclick: async () => {
            const revoked = await afterConfirming({
              title: `Revoke the API key ${k.name}?`,
              message: `Every script using ${k.name} (${k.hint}…) is refused from its next request on. A revoked key cannot be restored; the operator creates a new one with roster api-key create.`,
              confirm: "Revoke key",
            }, () => api("DELETE", `/api-keys/${k.id}`), `API key ${k.name} revoked.`);
            if (revoked !== undefined) reload();
          } }, "Revoke")))))
        : h("p", { class: "muted", "data-testid": "no-api-keys", text: "No API keys." })));
}

async function webhooks(view) {
  const [{ webhooks: list }, { eventTypes }] = await Promise.all([api("GET", "/webhooks"), api("GET", "/webhooks/event-types")]);
  const reload = () => webhooks(view);
  const deliveries = h("div", {});
  fill(view,
    h("h1", { text: "Webhooks" }),
    table(["URL", "Events", "State", ""], list.map((w) =>
      h("tr", {}, h("td", { class: "mono", text: w.url }), h("td", { text: w.eventTypes.length ? w.eventTypes.join(", ") : "all" }),
        h("td", { class: w.enabled ? "ok" : "bad", text: w.enabled ? "enabled" : `disabled: ${w.disabledReason || ""}` }),
        h("td", {},
          h("button", { class: "secondary", onclick: async () => {
            const log = await attempt(() => api("GET", `/webhooks/${w.id}/deliveries`));
            if (log) deliveries.replaceChildren(h("h2", { text: `Deliveries to ${w.url}` }), table(["When", "Event", "Attempt", "Status", "Time", "Error", ""], log.deliveries.map((d) =>
              h("tr", {}, h("td", { text: when(d.at) }), h("td", { class: "mono", text: d.eventId }), h("td", { text: d.attempt }),
                h("td", { text: d.statusCode || "" }), h("td", { text: `${d.durationMs} ms` }), h("td", { text: d.error || "" }),
                h("td", {}, h("button", { class: "secondary", onclick: () => attempt(() => api("POST", `/webhooks/${w.id}/resend`, { eventId: d.eventId }), "Queued for delivery again.") }, "Resend"))))));
          } }, "Deliveries"),
          w.enabled ? null : h("button", { class: "secondary", onclick: async () => { if (await attempt(() => api("POST", `/webhooks/${w.id}/enable`), "Endpoint enabled.")) reload(); } }, "Enable"),
          h("button", { class: "danger", onclick: async () => {
            const deleted = await afterConfirming({
              title: "Delete this endpoint?",
              message: `No more events are sent to ${w.url}. Registering it again gives it a new signing secret.`,
              confirm: "Delete endpoint",
            }, () => api("DELETE", `/webhooks/${w.id}`), "Endpoint deleted.");
            if (deleted !== undefined) reload();
          } }, "Delete"))))),
    deliveries,
    h("section", { class: "card" }, h("h2", { text: "Add an endpoint" }),
      h("form", { id: "new-webhook", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        const chosen = [...e.target.querySelectorAll('input[name="eventType"]:checked')].map((box) => box.value);
        const created = await attempt(() => api("POST", "/webhooks", { url: v.url, eventTypes: chosen }));
        if (!created) return;
        await reload();
        flash("Copy the signing secret now: it is shown only once.", "info");
        view.append(h("div", { class: "secret", "data-testid": "webhook-secret" }, "Signing secret (shown once): ", h("code", { text: created.secret })));
      } },
        h("label", {}, "URL", h("input", { name: "url", type: "url", required: true })),
        h("fieldset", { "data-testid": "event-types" }, h("legend", { text: "Event types (none checked = all)" }),
          eventTypes.map((type) => h("label", {}, h("span", {}, h("input", { type: "checkbox", name: "eventType", value: type }), ` ${type}`)))),
        h("button", { type: "submit" }, "Add endpoint"))));
}

// --- Setup mode ----------------------------------------------------------------------------

// A setup link's session (`session.setup`): the page shows only the guided flow of the link's
// intent, in order, and Done ends the session and goes back to the operator's product.
const SETUP_STEPS = {
  sso: { title: "Single sign-on", render: setupSso },
  test: { title: "Test sign-in", render: setupTest },
  domains: { title: "Domains", render: (view) => domains(view) },
  scim: { title: "Provisioning (SCIM)", render: setupScim },
};
const SETUP_FLOWS = { sso: ["sso", "test"], domain: ["domains"], scim: ["scim"], all: ["sso", "test", "domains", "scim"] };
let poller = null;

function stopPolling() {
  if (poller) clearInterval(poller);
  poller = null;
}

function setupFlow() {
  return SETUP_FLOWS[session.setup.intent] || [];
}

function rememberConnection(id) {
  try {
    sessionStorage.setItem("roster.setup.connection", id);
  } catch {
    // Without storage the test step lists every connection anyway.
  }
}

async function setupRoute(view, name, argument) {
  const flow = setupFlow();
  if (!flow.length) {
    fill(view, h("p", { class: "bad", text: `This console does not know the setup intent ${session.setup.intent}.` }));
    return;
  }
  // `#setup/STEP`, or `#test/ID` on the way back from a test sign-in.
  const step = name === "test" ? "test" : (flow.includes(argument) ? argument : flow[0]);
  const index = flow.indexOf(step);
  const content = h("div", { id: `setup-${step}` });
  const next = flow[index + 1];
  // Done ends the session for good (the link opened once): the last step's main button,
  // a secondary one before it.
  const finish = h("button", { class: next ? "secondary" : "", "data-testid": "setup-done", onclick: finishSetup }, "Done");
  fill(view,
    h("h1", { "data-testid": "setup-title", text: `Setting up ${session.setup.workspace.displayName}` }),
    h("ol", { class: "stepper" }, flow.map((s, i) => h("li", { class: s === step ? "active" : i < index ? "done" : "" },
      h("a", { href: `#setup/${s}` }, SETUP_STEPS[s].title)))),
    content,
    h("div", { class: "inline setup-nav" },
      index > 0 ? h("a", { href: `#setup/${flow[index - 1]}` }, "Back") : null,
      next ? h("button", { "data-testid": "setup-next", onclick: () => { location.hash = `#setup/${next}`; } }, `Next: ${SETUP_STEPS[next].title}`) : null,
      finish));
  await SETUP_STEPS[step].render(content, name === "test" ? argument : undefined);
}

async function finishSetup() {
  const back = session.setup.returnUrl;
  const sure = await confirmAction({
    title: "Finish the setup?",
    message: "What you set up stays. The setup link stops working and this page signs out; to change something later, ask for a new link.",
    confirm: "Finish setup",
  });
  if (!sure) return;
  // No refresh may run into the ended session.
  stopPolling();
  const done = await attempt(() => api("POST", "/setup/finish"));
  if (!done) return;
  // The session is over: the page no longer routes (Back would only meet 401s) nor says when
  // it ends.
  session.setup.finished = true;
  document.getElementById("who").replaceChildren("Setup finished");
  const next = done.returnUrl || back;
  // Only a web address: never a javascript: or data: URL from anywhere.
  if (next && /^https?:\/\//i.test(next)) {
    location.assign(next);
    return;
  }
  fill(document.getElementById("view"), h("section", { class: "card", "data-testid": "setup-finished" },
    h("h1", { text: "Setup finished" }), h("p", { text: "Everything is saved. You can close this page." })));
}

// Single sign-on: the workspace's SAML and OIDC connections (a draft is finished here), and the
// guided setup of a new one; an activated connection goes on to its test sign-in.
async function setupSso(view) {
  const { connections: list } = await api("GET", "/connections");
  const sso = list.filter((c) => c.kind !== "scim" && c.status !== "revoked");
  const activated = (c) => {
    rememberConnection(c.id);
    location.hash = "#setup/test";
  };
  const existing = await Promise.all(sso.map((s) => api("GET", `/connections/${s.id}`)));
  fill(view,
    existing.length ? h("section", { class: "card" }, h("h2", { text: "Connections" }),
      existing.map((c) => h("div", { "data-testid": `connection-${c.name}` },
        h("p", {}, h("b", { text: c.name }), h("span", { class: "muted", text: ` ${c.kind.toUpperCase()} · ${c.vendor} · ${c.status}` })),
        c.status === "draft" ? guidedSetup(activated, { guide: guideFor(c), connection: c }) : null))) : null,
    h("section", { class: "card" }, h("h2", { text: "New connection" }), guidedSetup(activated)));
}

// Test sign-in: each active SAML or OIDC connection can be tried; back from the IdP, the report.
async function setupTest(view, testId) {
  const report = h("div", {});
  if (testId) await testReport(report, testId);
  const { connections: list } = await api("GET", "/connections");
  // The list has no vendor: each connection's own page does.
  const active = await Promise.all(list.filter((c) => c.kind !== "scim" && c.status === "active")
    .map((c) => api("GET", `/connections/${c.id}`)));
  let chosen = null;
  try {
    chosen = sessionStorage.getItem("roster.setup.connection");
  } catch {
    chosen = null;
  }
  const activated = active.find((c) => c.id === chosen);
  fill(view, report,
    activated && !testId ? h("p", { class: "ok", "data-testid": "setup-activated", text: `${activated.name} is active: its sign-ins work now. Try one before you go on.` }) : null,
    h("p", { class: "muted", text: "Sign in at your identity provider as one of your users: Roster checks what arrives and shows what it would do, without creating a user, a session or a sign-in." }),
    active.length ? table(["Connection", ""], active.map((c) => h("tr", { class: c.id === chosen ? "chosen" : "", "data-testid": `test-${c.name}` },
      h("td", {}, c.name, h("span", { class: "muted", text: ` ${c.kind.toUpperCase()} · ${c.vendor}` })), h("td", {}, testSignInButton(c)))))
      : h("p", { class: "muted", text: "No active connection yet: set up single sign-on first." }));
}

// Provisioning: SCIM on (a connection that has it, SCIM turned on for a sign-in connection, or
// a SCIM-only connection), a token shown once, then the provisioning log and the users,
// refreshed every few seconds, as the IdP's first requests arrive.
async function setupScim(view) {
  const { connections: list } = await api("GET", "/connections");
  const live = list.filter((c) => c.status !== "revoked");
  const scim = live.find((c) => c.kind === "scim" || c.scimEnabled);
  const rerender = () => setupScim(view);
  if (!scim) {
    fill(view,
      h("p", { class: "muted", text: "Your identity provider creates, updates and deactivates users here over SCIM. Turn SCIM on for a sign-in connection (one connection, one token: sign-ins link to the provisioned users), or create a SCIM-only connection." }),
      live.filter((c) => c.kind !== "scim").map((c) => h("button", { class: "secondary", "data-testid": `scim-on-${c.name}`, onclick: async () => {
        if (await attempt(() => api("PUT", `/connections/${c.id}/scim`, { enabled: true }), `Provisioning with SCIM is on for ${c.name}.`)) rerender();
      } }, `Turn SCIM on for ${c.name}`)),
      h("form", { class: "inline", id: "new-scim-connection", onsubmit: async (e) => {
        e.preventDefault();
        const v = formValues(e.target);
        if (await attempt(() => api("POST", "/connections", { name: v.name, kind: "scim", vendor: v.vendor }), `Connection ${v.name} created.`)) rerender();
      } },
        h("label", {}, "SCIM-only connection name", h("input", { name: "name", required: true, value: "scim" })),
        h("label", {}, "Identity provider", h("select", { name: "vendor" }, VENDORS.map((v) => h("option", { value: v }, v)))),
        h("button", { type: "submit" }, "Create SCIM connection")));
    return;
  }
  const c = await api("GET", `/connections/${scim.id}`);
  const { tokens } = await api("GET", `/connections/${c.id}/tokens`);
  const shown = h("div", {});
  const log = h("div", { "data-testid": "setup-watch" });
  const count = h("p", { class: "muted" });
  const counted = (n) => { count.textContent = `${n} token${n === 1 ? "" : "s"} so far. A token is shown once: generate one and paste it into your IdP with the base URL.`; };
  let made = tokens.length;
  counted(made);
  fill(view,
    h("section", { class: "card" },
      h("h2", { text: `SCIM for ${c.name}` }),
      h("div", { class: "kv" }, copyRow("SCIM base URL", c.sp.scimBaseUrl, "scim-base-url")),
      count,
      h("form", { class: "inline", id: "setup-token", onsubmit: async (e) => {
        e.preventDefault();
        const created = await attempt(() => api("POST", `/connections/${c.id}/tokens`, { name: formValues(e.target).name || "setup" }));
        if (!created) return;
        counted(++made);
        flash("Copy the token now: it is shown only once.", "info");
        fill(shown, h("div", { class: "secret", "data-testid": "new-token" },
          h("div", {}, "Token (shown once): ", h("code", { "data-testid": "token-value", text: created.token }), " ", copyButton(created.token, "copy-token")),
          h("div", {}, "SCIM base URL: ", h("code", { text: created.scimBaseUrl }), " ", copyButton(created.scimBaseUrl))));
      } },
        h("label", {}, "Token name", h("input", { name: "name", value: "setup" })),
        h("button", { type: "submit" }, "Generate token")),
      shown),
    log);
  const refresh = async () => {
    try {
      const [prov, people] = await Promise.all([
        api("GET", `/provisioning-log?${new URLSearchParams({ connection: c.id, limit: "20" })}`),
        api("GET", `/users?${new URLSearchParams({ managedBy: c.id, limit: "200" })}`)]);
      // The users this connection provisions (a setup session sees no others).
      const arrived = people.users;
      fill(log,
        h("h2", { text: "Provisioning log" }),
        h("p", { class: "muted", text: `Refreshed every 5 seconds; last at ${new Date().toLocaleTimeString()}.` }),
        prov.entries.length ? table(["When", "Request", "Status", "Error"], prov.entries.map((e) =>
          h("tr", { "data-testid": "provisioning-entry" }, h("td", { text: when(e.at) }),
            h("td", { class: "mono", text: `${e.method} ${e.path}${e.query ? `?${readableQuery(e.query)}` : ""}` }),
            h("td", { class: e.status >= 400 ? "bad" : "ok", text: e.status }), h("td", { text: e.error || "" }))))
          : h("p", { class: "muted", text: "No request from the IdP yet: start provisioning there (Entra: Provision on demand; Okta: assign a user)." }),
        h("h2", { text: `Users from ${c.name}` }),
        arrived.length
          ? h("p", { class: "ok", "data-testid": "first-user", text: `${arrived.length === 1 ? "The first user has" : `${arrived.length} users have`} arrived: provisioning works.` })
          : h("p", { class: "muted", "data-testid": "no-user-yet", text: `No user from ${c.name} yet.` }),
        arrived.length ? table(["User name", "Email", "Status", "Arrived"], arrived.map((u) =>
          h("tr", { "data-testid": `watch-user-${u.userName}` }, h("td", { text: u.userName }), h("td", { text: u.email || "" }),
            h("td", { text: u.lifecycle }), h("td", { text: when(u.createdAt) })))) : null);
    } catch (err) {
      stopPolling();
      flash(err.message);
    }
  };
  await refresh();
  stopPolling();
  poller = setInterval(refresh, 5000);
}

// The warning on a SAML connection whose IdP signing certificate expires within 30 days (or has
// expired): logins stop that day unless the metadata is updated.
function certificateWarning(c) {
  const warnings = [];
  const days = (at) => Math.floor((new Date(at) - Date.now()) / 86400000);
  const at = c.idp && c.idp.signingCertificatesExpireAt;
  if (at && days(at) <= 30) {
    warnings.push(days(at) < 0
      ? `The IdP's signing certificate expired on ${when(at)}: sign-ins are refused until the metadata is updated.`
      : `The IdP's signing certificate expires on ${when(at)} (${days(at)} day${days(at) === 1 ? "" : "s"}): update the metadata before then (Edit connection, or fetch it again).`);
  }
  // Roster's own certificates for this connection (`roster connection keys`).
  const sp = c.sp || {};
  for (const [name, own] of [["signing", sp.signingCertificateExpiresAt], ["encryption", sp.encryptionCertificateExpiresAt]]) {
    if (own && days(own) <= 30) {
      warnings.push(`Roster's ${name} certificate for this connection expires on ${when(own)}: rotate it (roster connection keys rotate), give the IdP the new SP metadata, then retire the old key.`);
    }
  }
  if (!warnings.length) return null;
  return h("p", { class: "bad", "data-testid": "certificate-expiring", text: warnings.join(" ") });
}

// --- Router --------------------------------------------------------------------------------

const VIEWS = { overview, connections, domains, users, user, groups, roles: rolesView, attributes: attributesView, mappings, migration, logs, audit, webhooks, settings, test: testReport };
// The nav entry a view belongs to (a user's page is under Users, a test sign-in's report under
// Connections).
const NAV_OF = { user: "users", test: "connections" };

async function route() {
  // A finished setup keeps its last page.
  if (session.setup && session.setup.finished) return;
  const view = document.getElementById("view");
  // `#name` or `#name/argument` (a user's page: `#user/ID`).
  const [name, argument] = (location.hash.slice(1) || "overview").split("/");
  const section = NAV_OF[name] || name;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.getAttribute("href") === `#${section}`);
  view.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
  stopPolling();
  if (session.setup) {
    try {
      await setupRoute(view, name, argument);
    } catch (err) {
      view.replaceChildren(h("p", { class: "bad", text: err.message }));
    }
    return;
  }
  try {
    const render = VIEWS[name] || overview;
    const fresh = h("div", { id: `view-${name}` });
    await render(fresh, argument);
    view.replaceChildren(fresh);
  } catch (err) {
    view.replaceChildren(h("p", { class: "bad", text: err.message }));
  }
}

async function start() {
  const view = document.getElementById("view");
  try {
    session = await api("GET", "/session");
  } catch (err) {
    view.replaceChildren();
    if (err.status === 401) signIn(view);
    else view.append(h("p", { class: "bad", text: err.message }));
    return;
  }
  window.addEventListener("hashchange", () => { flash(""); route(); });
  if (session.setup) {
    // A setup link's session: no navigation, no sign-out (Done ends it), only the guided flow.
    document.getElementById("who").replaceChildren(`Setup link · ends ${when(session.setup.expiresAt)}`);
    if (!location.hash || location.hash === "#setup") location.hash = `#setup/${setupFlow()[0]}`;
    else await route();
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("who").replaceChildren(
    session.signedInWithSso ? "Signed in with SSO · " : "Signed in with a password · ",
    h("form", { method: "post", action: "/logout", class: "signout" }, h("button", { class: "secondary", type: "submit" }, "Sign out")));
  await route();
}

start();
