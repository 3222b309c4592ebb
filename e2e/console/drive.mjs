// Drives the Roster admin console in Debian's headless Chromium, the way an admin would:
// sign in, create a SAML connection from the IdP's metadata URL, test it, add one of Roster's
// own keys for it and retire the first one, create a draft SAML
// connection without metadata and activate it with the metadata, turn SCIM on,
// generate a token, provision a user through SCIM with that token, find it in the users view
// and the sync status, see that their own account cannot be disabled and why, disable another
// user (cancelling the confirmation once first), add a group mapping, try to delete the mapping
// that makes them an admin (asked first, then refused with the policy's reason), revoke the
// token (asked first), register a webhook endpoint, open the page of a user signed into apps and
// sign them out everywhere (cancelling the confirmation once first), sign out. A screenshot of
// every main page goes to SCREENSHOTS. Prints one JSON object with what it saw; exits non-zero
// on any failure, on any JavaScript error in the page, on any Content-Security-Policy violation,
// and on any failed request the step did not expect.
// Along the way: the Overview counts every active connection; the connection is edited (vendor,
// domains, its metadata fetched again); the token shown once has a Copy button that copies it
// and is scrolled into view, and an expired token reads "expired"; the mapping form offers the
// SCIM connections, the roles and the app groups as lists, and the table shows names; the roles
// page lists each role with its rank and holders; the settings page disables SSO enforcement for
// this password session and says why, and revokes an API key after a confirmation; a connection
// whose IdP certificate expired is flagged by Test connection, which opens the editor; the logs show
// a login failure's want/got and a SCIM request's query and target; the audit view lists the
// changes, newest first.
//
// Environment: BASE_URL, WORKSPACE, ADMIN_USER, ADMIN_PASSWORD, SAML_METADATA_URL, WEBHOOK_URL,
// APPS_USER (the userName of a user signed into apps), DISABLE_USER (a user to disable),
// LOCKOUT_GROUP (the IdP group key of the mapping that makes the admin an admin), API_KEY_NAME
// (an API key to revoke), EXPIRED_TOKEN (the name of an expired token of the "directory"
// connection), EXPIRED_METADATA_FILE (IdP metadata whose signing certificate expired),
// SCREENSHOTS, CHROMIUM (default /usr/bin/chromium).
//
// Also: the guided setup picks Okta, shows its steps with the new draft's values (Copy buttons
// copy them) and activates the connection with the IdP's metadata URL; the Domains page adds a
// domain, shows the TXT record to publish, checks it (no record yet: failed, and why) and deletes
// it after a confirmation.
//
// And custom attributes: the Attributes page declares department from its template and a number
// of its own (a second declaration of it is refused with the API's reason); Ada's page sets both
// and shows them; a SCIM-managed user's are read-only with the reason; the users list filters
// by department; the SAML connection's card maps department and resets it to its default; the
// number is deleted after a confirmation. On the roles page a rule department = engineering
// gives Ada reviewer, and deleting it (after a confirmation) takes it back.

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env("BASE_URL");
const SHOTS = env("SCREENSHOTS");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const problems = [];
const result = {};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  // Chromium logs every failed request as a console error: the signed-out console's 401, and the
  // refusals a step provokes on purpose (`expecting`), are the only ones allowed.
  let expecting = [];
  page.on("console", (msg) => {
    const text = msg.text();
    const expected = /401 \(Unauthorized\)/.test(text) || expecting.some((status) => text.includes(`status of ${status}`));
    if (msg.type() === "error" && !expected) problems.push(`console error: ${text} (${msg.location().url})`);
  });
  // What the browser says about the origin of the forms that sign in and out (Roster checks it).
  result.formHeaders = {};
  page.on("requestfinished", async (request) => {
    const path = new URL(request.url()).pathname;
    if (request.method() === "POST" && (path === "/login/password" || path === "/logout")) {
      const headers = await request.allHeaders(); // as sent, Sec-Fetch-* included
      result.formHeaders[path] = { origin: headers.origin ?? null, secFetchSite: headers["sec-fetch-site"] ?? null };
    }
  });
  const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  const show = async (view) => {
    await page.goto(`${BASE}/admin#${view}`);
    await page.locator(`#view-${view}`).waitFor();
  };

  // 1. Sign in with the admin's password.
  await page.goto(`${BASE}/admin`);
  await page.locator("#password-login").waitFor();
  await shot("01-sign-in");
  await page.fill('#password-login input[name="workspace"]', env("WORKSPACE"));
  await page.fill('#password-login input[name="user_name"]', env("ADMIN_USER"));
  await page.fill('#password-login input[name="password"]', env("ADMIN_PASSWORD"));
  await Promise.all([page.waitForURL(`${BASE}/admin`), page.click('#password-login button[type="submit"]')]);
  await page.locator("#view-overview").waitFor();
  result.signedIn = (await page.locator("#who").innerText()).trim();
  await shot("02-overview");

  // 2. Create the SAML connection from the IdP's metadata URL.
  await show("connections");
  await page.fill('#new-connection input[name="name"]', "simplesaml");
  await page.selectOption('#new-connection select[name="kind"]', "saml");
  await page.fill('#new-connection input[name="metadataUrl"]', env("SAML_METADATA_URL"));
  await page.fill('#new-connection input[name="domains"]', "example.test");
  await page.click('#new-connection button[type="submit"]');
  const card = page.locator('[data-testid="connection-simplesaml"]');
  await card.waitFor();
  result.acsUrl = await card.locator('[data-testid="acs-url"]').innerText();
  result.sloUrl = await card.locator('[data-testid="slo-url"]').innerText();
  result.samlKeys = await card.locator('[data-testid="saml-keys"]').innerText();
  result.spEntityId = await card.locator('[data-testid="sp-entity-id"]').innerText();
  await shot("03-connection-created");

  // 3. Test it against the IdP.
  await card.locator('[data-testid="test-connection"]').click();
  await card.locator('[data-testid="test-result"]').waitFor();
  result.testSummary = (await card.locator('[data-testid="test-result"] p').first().innerText()).trim();
  await shot("04-connection-tested");

  // 3a. Roster's own keys on the card: add an encryption key, then retire the first one once
  // the admin confirms.
  const spKey = (use, generation) =>
    page.locator(`[data-testid="connection-simplesaml"] [data-testid="sp-key-${use}-${generation}"]`);
  await spKey("encryption", 1).waitFor();
  await card.locator('[data-testid="add-sp-key-encryption"]').click();
  await spKey("encryption", 2).waitFor();
  await spKey("encryption", 1).locator('[data-testid="retire-sp-key"]').click();
  result.retireSpKeyConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await spKey("encryption", 1).waitFor({ state: "detached" });
  result.spKeys = await page
    .locator('[data-testid="connection-simplesaml"] [data-testid="sp-keys"] tbody tr')
    .evaluateAll((rows) => rows.map((row) => row.dataset.testid));
  await shot("04a-sp-keys");

  // 3b. Edit it from its card: another vendor, a second domain, the metadata fetched again (as
  // after the IdP rolled its certificate).
  await card.locator('[data-testid="edit-connection"]').click();
  const editor = card.locator('[data-testid="edit-connection-form"]');
  await editor.locator('select[name="vendor"]').selectOption("okta");
  await editor.locator('input[name="domains"]').fill("example.test example.org");
  await editor.locator('input[name="refetch"]').check();
  await shot("04b-connection-editor");
  await editor.locator('[data-testid="save-connection"]').click();
  await page.locator('[data-testid="connection-simplesaml"] > h2', { hasText: "okta" }).waitFor();
  result.editedHeader = (await page.locator('[data-testid="connection-simplesaml"] > h2').innerText()).trim();
  result.editFlash = (await page.locator("#flash").innerText()).trim();

  // 3c. The Overview counts every active connection: the SCIM directory and this SAML one,
  // whose SCIM is still off.
  await show("overview");
  result.activeConnections = (await page.locator('[data-testid="active-connections"]').innerText()).trim();
  await show("connections");
  await card.waitFor();

  // 3d. A draft SAML connection: created without metadata, it shows the SP values the IdP asks
  // for first and says sign-ins wait; adding the metadata on its card activates it.
  await page.fill('#new-connection input[name="name"]', "okta-later");
  await page.selectOption('#new-connection select[name="kind"]', "saml");
  await page.click('#new-connection button[type="submit"]');
  const draftCard = page.locator('[data-testid="connection-okta-later"]');
  await draftCard.locator('[data-testid="draft"]').waitFor();
  result.draftState = (await draftCard.locator("h2 .muted").innerText()).trim();
  result.draftAcsUrl = await draftCard.locator('[data-testid="acs-url"]').innerText();
  await shot("04d-draft-connection");
  await draftCard.locator('form[id^="draft-metadata-"] input[name="metadataUrl"]').fill(env("SAML_METADATA_URL"));
  await draftCard.locator('[data-testid="add-metadata"]').click();
  await draftCard.locator('[data-testid="draft"]').waitFor({ state: "detached" });
  result.activatedState = (await page.locator('[data-testid="connection-okta-later"] h2 .muted').innerText()).trim();
  await shot("04e-draft-activated");

  // 3e. The guided setup: pick Okta, name the connection (a draft is created, so the steps show
  // this workspace's own values, each with a Copy button), then give Roster Okta's metadata URL.
  const guided = page.locator('[data-testid="guided-setup"]');
  result.pickerIdps = (await guided.locator('.picker button').allInnerTexts()).map((t) => t.trim());
  await shot("20a-idp-picker");
  await guided.locator('[data-testid="pick-okta"]').click();
  result.guideTitle = (await guided.locator('[data-testid="guide-title"]').innerText()).trim();
  result.guidePlaceholder = (await guided.locator('[data-testid="value-acs_url"]').first().innerText()).trim();
  await guided.locator('[data-testid="guide-create"]').click();
  await guided.locator('[data-testid="guide-metadata"]').waitFor();
  result.guideSteps = (await guided.locator('[data-testid="guide-step"]').allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim());
  result.guideAcsUrl = (await guided.locator('code[data-testid="value-acs_url"]').first().innerText()).trim();
  result.guideEntityId = (await guided.locator('code[data-testid="value-sp_entity_id"]').first().innerText()).trim();
  await guided.locator('[data-testid="copy-acs_url"]').first().click();
  result.guideAcsCopied = (await page.evaluate(() => navigator.clipboard.readText())) === result.guideAcsUrl;
  await shot("20b-guided-okta-steps");
  await guided.locator('[data-testid="guide-metadata"] input[name="metadataUrl"]').fill(env("SAML_METADATA_URL"));
  await guided.locator('[data-testid="guide-activate"]').click();
  const guidedCard = page.locator('[data-testid="connection-okta"]');
  await guidedCard.locator("h2 .muted", { hasText: "active" }).waitFor();
  result.guidedState = (await guidedCard.locator("h2 .muted").innerText()).trim();
  result.guidedCardAcsUrl = (await guidedCard.locator('[data-testid="acs-url"]').innerText()).trim();
  result.guidedFlash = (await page.locator("#flash").innerText()).trim();
  result.guidedTestSignIn = await guidedCard.locator('[data-testid="test-sign-in"]').count();
  await shot("20c-guided-okta-active");

  // 4. Turn SCIM on and generate a token: shown once, with the base URL to paste.
  await card.locator('[data-testid="scim-toggle"]').check();
  const tokenForm = page.locator('[data-testid="connection-simplesaml"] form[id^="new-token-"]');
  await tokenForm.waitFor();
  await tokenForm.locator('input[name="name"]').fill("entra");
  await tokenForm.locator('button[type="submit"]').click();
  await page.locator('[data-testid="token-value"]').waitFor();
  const token = (await page.locator('[data-testid="token-value"]').innerText()).trim();
  const scimBase = (await page.locator('[data-testid="token-base-url"]').innerText()).trim();
  result.scimBaseUrl = scimBase;
  // Shown in the viewport (the card is below others), with a Copy button that copies it.
  result.tokenInView = await page.locator('[data-testid="new-token"]').evaluate((el) => {
    const box = el.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
  });
  await page.click('[data-testid="copy-token"]');
  result.tokenCopied = (await page.evaluate(() => navigator.clipboard.readText())) === token;
  result.newTokenState = (await card.locator('[data-testid="token-entra"] [data-testid="token-state"]').innerText()).trim();
  result.expiredTokenState = (await page.locator(
    `[data-testid="connection-directory"] [data-testid="token-${env("EXPIRED_TOKEN")}"] [data-testid="token-state"]`).innerText()).trim();
  await page.locator('[data-testid="new-token"]').screenshot({ path: join(SHOTS, "05a-scim-token-in-view.png") });
  await shot("05-scim-token");

  // 5. Provision a user through SCIM with that token, as Entra would.
  const scim = (method, path, body) => fetch(`${scimBase}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
    body: body && JSON.stringify(body),
  });
  const created = await scim("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: "grace@example.test",
    externalId: "entra-grace",
    name: { givenName: "Grace", familyName: "Hopper" },
    emails: [{ value: "grace@example.test", primary: true, type: "work" }],
    active: true,
  });
  result.provisionStatus = created.status;
  result.userId = (await created.json()).id;
  // A list with a filter Roster refuses: the provisioning log keeps its query.
  result.badFilterStatus = (await scim("GET", `/Users?filter=${encodeURIComponent('nickName zz "x"')}`)).status;

  // 6. The user is in the users view, and the sync status counts it.
  await show("users");
  await page.locator('[data-testid="user-grace@example.test"]').waitFor();
  result.userRow = (await page.locator('[data-testid="user-grace@example.test"]').innerText()).replace(/\s+/g, " ").trim();
  await shot("06-users");

  // 6b. The admin's own account cannot be disabled, and the row says why instead of a button.
  // Another user is disabled only once the admin confirms (cancelled once: nothing happens).
  const ownRow = page.locator(`[data-testid="user-${env("ADMIN_USER")}"]`);
  result.ownRowRefusal = (await ownRow.locator('[data-testid="refusal"]').innerText()).trim();
  result.ownRowButtons = await ownRow.getByRole("button", { name: "Disable" }).count();
  const disableUser = env("DISABLE_USER");
  const userRow = () => page.locator(`[data-testid="user-${disableUser}"]`);
  await userRow().getByRole("button", { name: "Disable" }).click();
  await dialog.waitFor();
  result.disableConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await shot("06b-disable-confirmation");
  await dialog.locator('[data-testid="confirm-cancel"]').click();
  await dialog.waitFor({ state: "detached" });
  await page.reload();
  await page.locator("#view-users").waitFor();
  result.statusAfterCancel = (await userRow().locator("td").nth(3).innerText()).trim();
  await userRow().getByRole("button", { name: "Disable" }).click();
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await userRow().getByRole("button", { name: "Enable" }).waitFor();
  result.statusAfterDisable = (await userRow().locator("td").nth(3).innerText()).trim();
  result.disableFlash = (await page.locator("#flash").innerText()).trim();
  await show("overview");
  const sync = page.locator('[data-testid="sync-simplesaml"]');
  await sync.waitFor();
  result.provisionedUsers = (await sync.locator('[data-testid="provisioned-users"]').innerText()).trim();
  result.lastSync = (await sync.locator('[data-testid="last-sync"]').innerText()).trim();
  await shot("07-sync-status");

  // 7. Map an IdP group to the admin role and a new app group, choosing from lists: two
  // connections have SCIM on now, so the connection is picked, not guessed.
  await show("mappings");
  result.mappingConnections = await page.locator('#new-mapping select[name="connectionId"] option').allInnerTexts();
  result.mappingRoles = await page.locator('#new-mapping select[name="roleName"] option').allInnerTexts();
  await page.fill('#new-mapping input[name="scimGroupName"]', "Engineering");
  await page.selectOption('#new-mapping select[name="roleName"]', "admin");
  await page.selectOption('#new-mapping select[name="connectionId"]', { label: "simplesaml" });
  await page.selectOption('#new-mapping select[name="groupName"]', { label: "New app group…" });
  await page.fill('#new-mapping input[name="newGroupName"]', "Engineers");
  await page.click('#new-mapping button[type="submit"]');
  await page.locator('[data-testid="mapping-Engineering"]').waitFor();
  const cells = (row) => row.locator("td").allInnerTexts().then((texts) => texts.slice(0, 4).map((t) => t.trim()));
  result.mappingRow = await cells(page.locator('[data-testid="mapping-Engineering"]'));
  result.lockoutMappingRow = await cells(page.locator(`[data-testid="mapping-${env("LOCKOUT_GROUP")}"]`));
  await shot("08-mappings");

  // 7a. The roles page: a new role created from its form, then each role with its rank and how
  // many users hold it.
  await show("roles");
  await page.fill('#new-role input[name="name"]', "reviewer");
  await page.fill('#new-role input[name="rank"]', "3");
  await page.click('[data-testid="create-role"]');
  await page.locator('tr[data-testid="role-reviewer"]').waitFor();
  result.roles = {};
  for (const row of await page.locator('tr[data-testid^="role-"]').all()) {
    const [name, rank, users] = (await row.locator("td").allInnerTexts()).map((t) => t.trim());
    result.roles[name] = { rank: Number(rank), users: Number(users) };
  }
  await shot("08c-roles");
  await show("mappings");

  // 7b. The mapping that makes this admin an admin: deleting it asks first, then the API refuses
  // (it would leave the workspace without an active admin) and the console says why.
  const lockoutRow = page.locator(`[data-testid="mapping-${env("LOCKOUT_GROUP")}"]`);
  await lockoutRow.getByRole("button", { name: "Delete" }).click();
  await dialog.waitFor();
  result.mappingConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  expecting = [403];
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await page.locator("#flash.error").waitFor();
  expecting = [];
  result.mappingRefusal = (await page.locator("#flash").innerText()).trim();
  await shot("08b-mapping-deletion-refused");
  await page.reload();
  await page.locator("#view-mappings").waitFor();
  result.lockoutMappingShown = await lockoutRow.count();

  // 8. Revoke the token: SCIM with it is refused from then on.
  await show("connections");
  const tokenRow = page.locator('[data-testid="connection-simplesaml"] [data-testid="token-entra"]');
  await tokenRow.waitFor();
  await tokenRow.getByRole("button", { name: "Revoke" }).click();
  await dialog.waitFor();
  result.tokenConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await shot("09a-token-revoke-confirmation");
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await tokenRow.waitFor({ state: "detached" });
  result.afterRevokeStatus = (await scim("GET", "/Users")).status;
  await shot("09-token-revoked");

  // 8b. Settings: SSO enforcement cannot be turned on from this password session, and the page
  // says why; a leaked API key is revoked after a confirmation.
  await show("settings");
  result.ssoToggleDisabled = await page.locator('[data-testid="sso-enforcement"]').isDisabled();
  result.ssoReason = (await page.locator('[data-testid="sso-enforcement-reason"]').innerText()).trim();
  const keyRow = page.locator(`[data-testid="api-key-${env("API_KEY_NAME")}"]`);
  await keyRow.getByRole("button", { name: "Revoke" }).click();
  await dialog.waitFor();
  result.apiKeyConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await shot("17a-api-key-revoke-confirmation");
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await keyRow.waitFor({ state: "detached" });
  result.apiKeyFlash = (await page.locator("#flash").innerText()).trim();
  await shot("17-settings");

  // 9. Register a webhook endpoint for the product: its signing secret is shown once.
  await show("webhooks");
  await page.fill('#new-webhook input[name="url"]', env("WEBHOOK_URL"));
  await page.check('#new-webhook input[name="eventType"][value="user.created"]');
  await page.check('#new-webhook input[name="eventType"][value="user.deactivated"]');
  await page.click('#new-webhook button[type="submit"]');
  await page.locator('[data-testid="webhook-secret"]').waitFor();
  result.webhookSecretShown = (await page.locator('[data-testid="webhook-secret"] code').innerText()).trim().length > 0;
  await shot("12-webhooks");

  // 9b. Domains: add one and see the TXT record to publish (name and value, with Copy buttons);
  // Check now finds no record (the test's DNS server has none) and says so; delete it after a
  // confirmation. A second one is kept (the test compares it with the database).
  await show("domains");
  const addDomain = async (name) => {
    await page.fill('#new-domain input[name="domain"]', name);
    await page.click('[data-testid="add-domain"]');
    await page.locator('[data-testid="new-domain-record"]').waitFor();
    const record = page.locator('[data-testid="new-domain-record"]');
    return {
      name: (await record.locator('[data-testid="record-name"]').innerText()).trim(),
      value: (await record.locator('[data-testid="record-value"]').innerText()).trim(),
      copyButtons: await record.getByRole("button", { name: "Copy" }).count(),
    };
  };
  result.domainRecord = await addDomain("console-proof.test");
  const domainRow = page.locator('[data-testid="domain-console-proof.test"]');
  result.domainStateAdded = (await domainRow.locator('[data-testid="domain-state"]').innerText()).trim();
  await shot("21a-domain-added");
  await domainRow.locator('[data-testid="check-domain"]').click();
  await domainRow.locator('[data-testid="domain-state"]', { hasText: "failed" }).waitFor();
  result.domainCheck = (await domainRow.locator('[data-testid="domain-check"]').innerText()).trim();
  result.domainCheckFlash = (await page.locator("#flash").innerText()).trim();
  await shot("21b-domain-checked");
  await domainRow.locator('[data-testid="delete-domain"]').click();
  await dialog.waitFor();
  result.domainConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await shot("21c-domain-delete-confirmation");
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await domainRow.waitFor({ state: "detached" });
  result.keptDomainRecord = await addDomain("kept-proof.test");
  result.domainRows = (await page.locator('tr[data-testid^="domain-"] td:first-child').allInnerTexts()).map((t) => t.trim());
  await shot("21-domains");

  // 10. A user's page lists the apps they are signed into; "Sign out everywhere" asks first
  // (cancelled once: nothing happens), then ends every sign-in and the list empties.
  await show("users");
  const appsUser = env("APPS_USER");
  await Promise.all([
    page.waitForURL(/#user\//),
    page.locator(`[data-testid="user-${appsUser}"] [data-testid="open-user"]`).click(),
  ]);
  await page.locator("#view-user").waitFor();
  result.userPageName = (await page.locator('[data-testid="user-name"]').innerText()).trim();
  result.userApps = await page.locator('[data-testid="signed-in-app"] [data-testid="app-name"]').allInnerTexts();
  result.userPageNavActive = (await page.locator("nav a.active").innerText()).trim();
  await shot("14-user-apps");
  await page.click('[data-testid="sign-out-everywhere"]');
  await page.locator('[data-testid="confirm-sign-out"]').waitFor();
  result.confirmation = (await page.locator('[data-testid="confirm-sign-out"] p').innerText()).trim();
  await shot("15-sign-out-confirmation");
  await page.click('[data-testid="cancel-sign-out"]');
  await page.locator('[data-testid="confirm-sign-out"]').waitFor({ state: "hidden" });
  await show("users");
  await page.locator(`[data-testid="user-${appsUser}"] [data-testid="open-user"]`).click();
  await page.locator('[data-testid="signed-in-app"]').first().waitFor();
  result.appsAfterCancel = await page.locator('[data-testid="signed-in-app"]').count();
  await page.click('[data-testid="sign-out-everywhere"]');
  await page.click('[data-testid="confirm-sign-out-yes"]');
  await page.locator('[data-testid="signed-out-result"]').waitFor();
  result.signedOutApps = await page.locator('[data-testid="signed-out-app"] td:first-child').allInnerTexts();
  result.appsAfterSignOut = await page.locator('[data-testid="signed-in-app"]').count();
  result.noAppsShown = await page.locator('[data-testid="no-apps"]').isVisible();
  result.signOutFlash = (await page.locator("#flash").innerText()).trim();
  await shot("16-signed-out-everywhere");

  // 10b. Custom attributes: declare department from its template and a number of the
  // workspace's own (declaring it twice is refused, and the banner says why); set Ada's values on
  // her page and see them; a SCIM-managed user's values are read-only, with the reason; filter
  // the users by department; map department on the SAML connection and reset it to its
  // default; delete the number after a confirmation.
  await show("attributes");
  result.attributeTemplates = (await page.locator('#new-standard-attribute select[name="template"] option').allInnerTexts()).length;
  await page.selectOption('#new-standard-attribute select[name="template"]', "department");
  await page.click('[data-testid="add-standard-attribute"]');
  await page.locator('[data-testid="attribute-department"]').waitFor();
  const declare = async () => {
    await page.fill('#new-attribute input[name="name"]', "deskFloor");
    await page.fill('#new-attribute input[name="label"]', "Desk floor");
    await page.selectOption('#new-attribute select[name="type"]', "number");
    await page.click('[data-testid="declare-attribute"]');
  };
  await declare();
  await page.locator('[data-testid="attribute-deskFloor"]').waitFor();
  result.attributeRows = {};
  for (const row of await page.locator('tr[data-testid^="attribute-"]').all()) {
    const cells = (await row.locator("td").allInnerTexts()).map((t) => t.trim());
    result.attributeRows[cells[0]] = cells.slice(1, 6);
  }
  result.templatesLeft = (await page.locator('#new-standard-attribute select[name="template"] option').allInnerTexts()).length;
  expecting = [409];
  await declare();
  await page.locator("#flash.error").waitFor();
  expecting = [];
  result.duplicateAttributeFlash = (await page.locator("#flash").innerText()).trim();
  await shot("22-attributes");
  await show("users");
  await Promise.all([
    page.waitForURL(/#user\//),
    page.locator(`[data-testid="user-${appsUser}"] [data-testid="open-user"]`).click(),
  ]);
  const attributesCard = page.locator('[data-testid="user-attributes"]');
  result.attributesBefore = (await attributesCard.locator('[data-testid="attribute-value-department"]').innerText()).trim();
  await attributesCard.locator('[data-testid="edit-attributes"]').click();
  await page.fill('#attribute-editor input[name="department"]', "Engineering");
  await page.fill('#attribute-editor input[name="deskFloor"]', "3");
  await page.click('[data-testid="save-attributes"]');
  await page.locator('[data-testid="attribute-value-department"]', { hasText: "Engineering" }).waitFor();
  result.attributesAfter = {
    department: (await page.locator('[data-testid="attribute-value-department"]').innerText()).trim(),
    deskFloor: (await page.locator('[data-testid="attribute-value-deskFloor"]').innerText()).trim(),
  };
  result.attributesFlash = (await page.locator("#flash").innerText()).trim();
  await shot("23-user-attributes");
  await show("users");
  await Promise.all([
    page.waitForURL(/#user\//),
    page.locator('[data-testid="user-grace@example.test"] [data-testid="open-user"]').click(),
  ]);
  await page.locator('[data-testid="user-attributes"]').waitFor();
  result.scimUserAttributes = {
    refusal: (await page.locator('[data-testid="attribute-refusal"]').innerText()).trim(),
    editButtons: await page.locator('[data-testid="edit-attributes"]').count(),
  };
  await show("users");
  await page.selectOption('#user-search select[name="attribute"]', "department");
  await page.fill('#user-search input[name="value"]', "engineering");
  await page.click('#user-search button[type="submit"]');
  await page.locator('[data-testid="filtered-value"]').first().waitFor();
  result.filteredUsers = (await page.locator('tr[data-testid^="user-"] [data-testid="open-user"]').allInnerTexts()).map((t) => t.trim());
  result.filteredValues = (await page.locator('[data-testid="filtered-value"]').allInnerTexts()).map((t) => t.trim());
  await shot("24-users-filtered-by-attribute");
  await show("connections");
  const departmentSaml = card.locator('[data-testid="attribute-mapping-department-saml"]');
  await departmentSaml.waitFor();
  const mappingOf = async () => ({
    sources: (await departmentSaml.locator('[data-testid="mapping-sources"]').innerText()).trim(),
    origin: (await departmentSaml.locator('[data-testid="mapping-origin"]').innerText()).trim(),
  });
  result.mappingDefault = await mappingOf();
  await departmentSaml.locator('[data-testid="edit-mapping"]').click();
  await card.locator('[data-testid="mapping-editor"] input[name="sources"]').fill("dept, department");
  await card.locator('[data-testid="save-mapping"]').click();
  await departmentSaml.locator('[data-testid="mapping-origin"]', { hasText: "custom" }).waitFor();
  result.mappingCustom = await mappingOf();
  await shot("25-attribute-mappings");
  await departmentSaml.locator('[data-testid="edit-mapping"]').click();
  await card.locator('[data-testid="reset-mapping"]').click();
  await departmentSaml.locator('[data-testid="mapping-origin"]', { hasText: "default" }).waitFor();
  result.mappingReset = await mappingOf();
  await show("attributes");
  const floorRow = page.locator('[data-testid="attribute-deskFloor"]');
  await floorRow.locator('[data-testid="delete-attribute"]').click();
  await dialog.waitFor();
  result.attributeConfirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await shot("22b-attribute-delete-confirmation");
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await floorRow.waitFor({ state: "detached" });
  result.attributesLeft = (await page.locator('tr[data-testid^="attribute-"] td:first-child').allInnerTexts()).map((t) => t.trim());
  result.attributeDeleteFlash = (await page.locator("#flash").innerText()).trim();

  // 10c. Roles from attributes: on the roles page, a rule department = engineering (another
  // case than the user's Engineering) gives reviewer, and the user holds it at once; deleting
  // the rule asks first, and the user no longer holds it.
  await show("roles");
  const reviewerUsers = async () => Number((await page.locator('tr[data-testid="role-reviewer"] [data-testid="role-users"]').innerText()).trim());
  result.attributeRule = { offeredRoles: (await page.locator('#new-attribute-rule select[name="roleName"] option').allInnerTexts()).map((t) => t.trim()) };
  await page.selectOption('#new-attribute-rule select[name="attribute"]', "department");
  await page.fill('#new-attribute-rule input[name="value"]', "engineering");
  await page.selectOption('#new-attribute-rule select[name="roleName"]', "reviewer");
  await page.click('[data-testid="create-attribute-rule"]');
  const ruleRow = page.locator('tr[data-testid="attribute-rule-department-engineering"]');
  await ruleRow.waitFor();
  result.attributeRule.row = (await ruleRow.locator("td").allInnerTexts()).slice(0, 3).map((t) => t.trim());
  result.attributeRule.reviewerUsers = await reviewerUsers();
  await shot("08d-roles-from-attributes");
  await ruleRow.locator('[data-testid="delete-attribute-rule"]').click();
  await dialog.waitFor();
  result.attributeRule.confirmation = (await dialog.locator('[data-testid="confirm-message"]').innerText()).trim();
  await dialog.locator('[data-testid="confirm-yes"]').click();
  await ruleRow.waitFor({ state: "detached" });
  await page.locator('[data-testid="no-attribute-rules"]').waitFor();
  result.attributeRule.reviewerUsersAfter = await reviewerUsers();
  result.attributeRule.flash = (await page.locator("#flash").innerText()).trim();

  // The remaining main pages.
  // 11. The provisioning log, filtered to the new connection, shows the SCIM create.
  await show("logs");
  await page.selectOption('#log-filters select[name="connection"]', { label: "simplesaml" });
  await page.click('#log-filters button[type="submit"]');
  await page.getByText("POST /scim/v2/Users").first().waitFor();
  result.provisioningTarget = (await page.locator('[data-testid="provisioning-entry"]', { hasText: "POST /scim/v2/Users" })
    .first().locator('[data-testid="provisioning-target"]').innerText()).trim();
  result.provisioningQuery = (await page.locator('[data-testid="provisioning-request"]', { hasText: "?filter=" }).first().innerText()).trim();
  result.loginDetails = (await page.locator('[data-testid="login-detail"]').allInnerTexts()).map((t) => t.trim());
  await shot("11-logs");

  // 11b. The audit trail, newest first.
  await show("audit");
  result.auditActions = await page.locator('[data-testid="audit-action"]').allInnerTexts();
  result.auditSeqs = (await page.locator('[data-testid="audit-event"] td:first-child').allInnerTexts()).map(Number);
  await shot("18-audit");

  // 11c. A connection whose IdP signs with an expired certificate: Test connection says so and
  // offers the editor right there, to load the IdP's new metadata.
  await show("connections");
  await page.fill('#new-connection input[name="name"]', "ping");
  await page.selectOption('#new-connection select[name="kind"]', "saml");
  await page.fill('#new-connection textarea[name="metadataXml"]', readFileSync(env("EXPIRED_METADATA_FILE"), "utf8"));
  await page.click('#new-connection button[type="submit"]');
  const ping = page.locator('[data-testid="connection-ping"]');
  await ping.waitFor();
  // The card says so before any test: the certificate's expiry is part of the connection.
  result.expiryOnCard = (await ping.locator('[data-testid="certificate-expiring"]').innerText()).trim();
  await ping.locator('[data-testid="test-connection"]').click();
  const warning = ping.locator('[data-testid="certificate-warning"]');
  await warning.waitFor();
  result.certificateWarning = (await warning.innerText()).trim();
  await warning.getByRole("button", { name: "Edit connection" }).click();
  await ping.locator('[data-testid="edit-connection-form"]').waitFor();
  result.editorNextToWarning = await ping.locator('[data-testid="edit-connection-form"] h3').innerText();
  await shot("19-certificate-warning");

  for (const [view, name] of [["migration", "10-migration-planner"], ["groups", "13-groups"]]) {
    await show(view);
    await shot(name);
  }
  result.flash = (await page.locator("#flash").innerText()).trim();

  // 12. Sign out with the console's button: back on the landing page, and the console asks for
  // a sign-in again.
  await show("overview");
  await Promise.all([page.waitForURL(`${BASE}/`), page.click("#who form.signout button")]);
  result.signedOut = (await page.locator("body").innerText()).replace(/\s+/g, " ").trim();
  await page.goto(`${BASE}/admin`);
  await page.locator("#password-login").waitFor();
  result.signInShownAgain = true;
} catch (err) {
  problems.push(`step failed: ${err.message}`);
} finally {
  await browser.close();
}
result.problems = problems;
console.log(JSON.stringify(result));
process.exit(problems.length ? 1 : 0);
