// Drives the console's setup mode in Debian's headless Chromium, the way a customer's IT admin
// who has no account would, from the setup link the SaaS operator emailed them:
//
// 1. An `all` link: its page says what it is for and has a Continue button; Continue lands in
//    setup mode ("Setting up ACME Corp", the steps of the link, no admin navigation, no
//    sign-out). Single sign-on: pick Okta, read its steps with this workspace's values, give
//    Roster SimpleSAMLphp's metadata URL: the connection is active and the flow goes on to the
//    test sign-in step; Test sign-in as alice at SimpleSAMLphp comes back to the report (what
//    arrived, "would create a new user"), still in setup mode. Domains: add one, read the TXT
//    record to publish, Check now (the test's DNS server has no record: failed, and why). SCIM:
//    turn SCIM on for the new connection, generate a token (shown once), provision a user
//    through SCIM with it as the IdP would, and watch the user arrive on the page (it refreshes
//    every 5 seconds). A route outside the session's reach answers 403 setup_scope from the
//    page. Done asks first (cancelled once: nothing ends), then the browser ends on the
//    operator's return_url page; the console asks for a sign-in again; the link, opened again,
//    says it was already used (410).
// 2. A `domain` link, in a second browser: only the Domains step, no admin navigation, and a
//    fetch from the page to a route outside the intent (`/api/v1/admin/users`) answers 403
//    setup_scope. Done without a return_url: the page says setup is finished.
//
// A screenshot of each step goes to SCREENSHOTS. Prints one JSON object with what it saw
// (`setupCookie`: the `all` session's cookie before Done, for the test to prove it no longer
// works); exits non-zero on any failure, on any JavaScript error in the page, on any
// Content-Security-Policy violation, and on any failed request the step did not expect.
//
// Environment: BASE_URL, SETUP_URL (the `all` link), DOMAIN_SETUP_URL (the `domain` link),
// RETURN_URL (the `all` link's return_url), SAML_METADATA_URL, SAML_SP_METADATA_FILE (the SP
// metadata SimpleSAMLphp trusts besides its own), DOMAIN (to add),
// SCIM_USER (the userName to provision), SCREENSHOTS, CHROMIUM (default /usr/bin/chromium).

import { mkdirSync, writeFileSync } from "node:fs";
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
// Chromium logs every failed request as a console error: the signed-out console's 401 and the
// refusals a step provokes on purpose (`expected`: a status and the path it answers) are the
// only ones allowed. (Kept for the whole run: Chromium may log a refusal after the step.)
const expected = [];
const expect = (status, path) => expected.push({ status, path });

// A fresh browser (its own cookies) with the checks every page gets.
async function openBrowser() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    const text = msg.text();
    const url = msg.location().url || "";
    const allowed = /401 \(Unauthorized\)/.test(text)
      || expected.some(({ status, path }) => text.includes(`status of ${status}`) && url.includes(path));
    if (msg.type() === "error" && !allowed) problems.push(`console error: ${text} (${url})`);
  });
  return { context, page };
}

const shotOf = (page) => (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const text = async (locator) => (await locator.innerText()).replace(/\s+/g, " ").trim();

// What the page sees of the setup shell: its title, its steps, whether any admin navigation or
// sign-out is there.
async function shell(page) {
  return {
    title: await text(page.locator('[data-testid="setup-title"]')),
    steps: (await page.locator("ol.stepper li").allInnerTexts()).map((t) => t.trim()),
    navHidden: await page.locator("#nav").isHidden(),
    visibleNavLinks: await page.locator("nav a:visible").count(),
    signOutButtons: await page.locator("#who form.signout").count(),
    who: await text(page.locator("#who")),
  };
}

// A request from the page itself (its cookie, its origin) to the admin API: status and refusal.
async function fetchFromPage(page, path) {
  expect(403, `/api/v1/admin${path}`);
  const answer = await page.evaluate(async (url) => {
    const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json().catch(() => null);
    return { status: response.status, refusal: body && body.detail ? body.detail.refusal ?? null : null };
  }, `/api/v1/admin${path}`);
  return answer;
}

// Opens a setup link's page and presses Continue: the console's setup mode.
async function continueFrom(page, shot, url, name) {
  const response = await page.goto(url);
  const opened = { status: response.status(), heading: await text(page.locator("h1")) };
  if (name) await shot(name);
  await Promise.all([page.waitForURL(/\/admin#setup/), page.getByRole("button", { name: "Continue" }).click()]);
  await page.locator('[data-testid="setup-title"]').waitFor();
  return opened;
}

// The test sign-in step, on `#setup/test` right after the metadata step: SimpleSAMLphp is told
// about the new connection (its SP metadata, from `spMetadataUrl`, written to
// SAML_SP_METADATA_FILE, which SimpleSAMLphp reads on every request: what the IT admin does by
// pasting the values into Okta), then Test sign-in (`POST …/connections/{id}/test-sign-in`)
// sends the browser to the IdP; signed in there, it comes back to `/admin#test/{testId}`, still
// in setup mode, with the report: what arrived and what Roster would do. The test checks that
// no user, session or login was written.
async function testSignInStep(page, shot, { connectionName, spMetadataUrl, idpUser, idpPassword }) {
  writeFileSync(env("SAML_SP_METADATA_FILE"), await (await fetch(spMetadataUrl)).text());
  // PHP's built-in server has no favicon for Chromium to fetch.
  expect(404, "/favicon.ico");
  const row = page.locator(`[data-testid="test-${connectionName}"]`);
  await Promise.all([page.waitForURL(/\/saml2\/idp\/|\/module\.php\//), row.locator('[data-testid="test-sign-in"]').click()]);
  // SimpleSAMLphp's example-userpass login form.
  await page.locator('input[name="username"]').fill(idpUser);
  await page.locator('input[name="password"]').fill(idpPassword);
  await shot("33a-setup-idp-login");
  await Promise.all([page.waitForURL(/\/admin#test\//), page.locator('button[type="submit"], input[type="submit"]').first().click()]);
  await page.locator('[data-testid="test-report"]').waitFor();
  const report = {
    hash: new URL(page.url()).hash.replace(/[^/]+$/, "ID"),
    title: await text(page.locator('[data-testid="setup-title"]')),
    navHidden: await page.locator("#nav").isHidden(),
    outcome: await text(page.locator('[data-testid="test-outcome"]')),
    message: await text(page.locator('[data-testid="test-message"]')),
    email: await text(page.locator('[data-testid="arrived-email"]')),
    subject: await text(page.locator('[data-testid="arrived-subject"]')),
    sessionCookie: (await page.context().cookies()).some((c) => c.name === "roster_session"),
    testButtons: await page.locator('[data-testid="test-sign-in"]').count(),
  };
  await shot("33b-setup-test-report");
  return report;
}

try {
  // 1. The `all` link.
  const { context, page } = await openBrowser();
  const shot = shotOf(page);
  result.linkPage = await continueFrom(page, shot, env("SETUP_URL"), "30-setup-link");
  await page.locator("#setup-sso").waitFor();
  result.setupHash = new URL(page.url()).hash;
  result.shell = await shell(page);
  await shot("31-setup-mode");

  // Single sign-on: pick Okta, name the connection (a draft: its values fill the steps), then
  // give Roster the IdP's metadata URL.
  const guided = page.locator('#setup-sso [data-testid="guided-setup"]');
  await guided.locator('[data-testid="pick-okta"]').click();
  result.guideTitle = await text(guided.locator('[data-testid="guide-title"]'));
  await guided.locator('[data-testid="guide-create"]').click();
  await guided.locator('[data-testid="guide-metadata"]').waitFor();
  result.guideAcsUrl = await text(guided.locator('code[data-testid="value-acs_url"]').first());
  result.guideEntityId = await text(guided.locator('code[data-testid="value-sp_entity_id"]').first());
  result.guideStepCount = await guided.locator('[data-testid="guide-step"]').count();
  await shot("32-setup-okta-steps");
  await guided.locator('[data-testid="guide-metadata"] input[name="metadataUrl"]').fill(env("SAML_METADATA_URL"));
  await Promise.all([page.waitForURL(/#setup\/test$/), guided.locator('[data-testid="guide-activate"]').click()]);
  const testRow = page.locator('#setup-test [data-testid="test-okta"]');
  await testRow.waitFor();
  result.testStep = {
    row: await text(testRow),
    chosen: (await testRow.getAttribute("class")) === "chosen",
    active: await text(page.locator('#setup-test [data-testid="setup-activated"]')),
    button: await testRow.locator('[data-testid="test-sign-in"]').count(),
  };
  await shot("33-setup-test-sign-in-step");
  // Test sign-in as alice: the report, and nothing written.
  result.testSignIn = await testSignInStep(page, shot, {
    connectionName: "okta",
    spMetadataUrl: result.guideEntityId, // Roster's SP entity id is its metadata URL
    idpUser: "alice",
    idpPassword: "alice-password",
  });

  // Domains: add one, read the record to publish, check it (no record yet).
  await Promise.all([page.waitForURL(/#setup\/domains$/), page.locator('[data-testid="setup-next"]').click()]);
  await page.locator('#setup-domains #new-domain').waitFor();
  await page.fill('#setup-domains #new-domain input[name="domain"]', env("DOMAIN"));
  await page.click('#setup-domains [data-testid="add-domain"]');
  const record = page.locator('[data-testid="new-domain-record"]');
  await record.waitFor();
  result.domainRecord = {
    name: await text(record.locator('[data-testid="record-name"]')),
    value: await text(record.locator('[data-testid="record-value"]')),
  };
  const domainRow = page.locator(`[data-testid="domain-${env("DOMAIN")}"]`);
  result.domainDeleteButtons = await domainRow.locator('[data-testid="delete-domain"]').count();
  await shot("34-setup-domain-added");
  await domainRow.locator('[data-testid="check-domain"]').click();
  await domainRow.locator('[data-testid="domain-state"]', { hasText: "failed" }).waitFor();
  result.domainCheck = await text(domainRow.locator('[data-testid="domain-check"]'));
  await shot("35-setup-domain-checked");

  // SCIM: on for the new connection, a token shown once.
  await Promise.all([page.waitForURL(/#setup\/scim$/), page.locator('[data-testid="setup-next"]').click()]);
  await page.locator('#setup-scim [data-testid="scim-on-okta"]').click();
  await page.locator("#setup-token").waitFor();
  await page.fill('#setup-token input[name="name"]', "okta-provisioning");
  await page.click('#setup-token button[type="submit"]');
  await page.locator('[data-testid="token-value"]').waitFor();
  const token = await text(page.locator('[data-testid="token-value"]'));
  const scimBase = await text(page.locator('#setup-scim [data-testid="scim-base-url"]'));
  result.scimBaseUrl = scimBase;
  await page.click('[data-testid="copy-token"]');
  result.tokenCopied = (await page.evaluate(() => navigator.clipboard.readText())) === token;
  await page.locator('[data-testid="setup-watch"] [data-testid="no-user-yet"]').waitFor();
  result.watchBefore = await text(page.locator('[data-testid="setup-watch"]'));
  await shot("36-setup-scim-token");

  // The IdP provisions its first user with that token; the page shows it arrive.
  const created = await fetch(`${scimBase}/Users`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" },
    body: JSON.stringify({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: env("SCIM_USER"),
      externalId: "okta-00u1",
      name: { givenName: "Grace", familyName: "Hopper" },
      emails: [{ value: env("SCIM_USER"), primary: true, type: "work" }],
      active: true,
    }),
  });
  result.provisionStatus = created.status;
  result.userId = (await created.json()).id;
  const provisionedAt = Date.now();
  const arrived = page.locator(`[data-testid="setup-watch"] [data-testid="watch-user-${env("SCIM_USER")}"]`);
  await arrived.waitFor({ timeout: 15000 });
  result.arrivedAfterMs = Date.now() - provisionedAt;
  result.arrivedRow = await text(arrived);
  result.firstUser = await text(page.locator('[data-testid="first-user"]'));
  result.provisioningEntry = await text(page.locator('[data-testid="setup-watch"] [data-testid="provisioning-entry"]').first());
  await shot("37-setup-first-user");

  // Outside this session's reach, even with intent `all`: the audit trail.
  result.allOutOfScope = await fetchFromPage(page, "/audit");

  // Done: back at the operator's product; the session is over.
  result.setupCookie = (await context.cookies()).find((c) => c.name === "roster_setup")?.value ?? null;
  // It asks first (the link opens once): cancelled, nothing ends.
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  await page.click('[data-testid="setup-done"]');
  await dialog.waitFor();
  result.doneConfirmation = await text(dialog.locator('[data-testid="confirm-message"]'));
  await shot("38-setup-done-confirmation");
  await dialog.locator('[data-testid="confirm-cancel"]').click();
  await dialog.waitFor({ state: "detached" });
  result.afterCancel = { hash: new URL(page.url()).hash, user: await arrived.isVisible() };
  await page.click('[data-testid="setup-done"]');
  await Promise.all([page.waitForURL(env("RETURN_URL")), dialog.locator('[data-testid="confirm-yes"]').click()]);
  result.returnPage = await text(page.locator("body"));
  await shot("39-setup-done-return-url");
  result.cookieAfterDone = (await context.cookies()).some((c) => c.name === "roster_setup");
  await page.goto(`${BASE}/admin`);
  await page.locator("#password-login").waitFor();
  result.signInAfterDone = true;
  // The link, opened again: already used.
  expect(410, new URL(env("SETUP_URL")).pathname);
  const usedAgain = await page.goto(env("SETUP_URL"));
  result.usedLink = { status: usedAgain.status(), page: await text(page.locator("body")) };
  await shot("40-setup-link-used");
  await context.close();

  // 2. The `domain` link, in another browser: only the Domains step.
  const second = await openBrowser();
  const shot2 = shotOf(second.page);
  result.domainLinkPage = await continueFrom(second.page, shot2, env("DOMAIN_SETUP_URL"), null);
  await second.page.locator("#setup-domains #new-domain").waitFor();
  result.domainShell = await shell(second.page);
  result.domainNextButtons = await second.page.locator('[data-testid="setup-next"]').count();
  result.domainRows = (await second.page.locator('tr[data-testid^="domain-"] td:first-child').allInnerTexts()).map((t) => t.trim());
  result.domainOutOfScope = await fetchFromPage(second.page, "/users");
  result.domainConnections = await fetchFromPage(second.page, "/connections");
  await shot2("41-setup-domain-only");
  await second.page.click('[data-testid="setup-done"]');
  await second.page.locator('[data-testid="confirm-yes"]').click();
  await second.page.locator('[data-testid="setup-finished"]').waitFor();
  result.domainFinished = await text(second.page.locator('[data-testid="setup-finished"]'));
  result.whoAfterFinish = await text(second.page.locator("#who"));
  // Back (or any other step's address) keeps the page as it is: the session is over.
  await second.page.evaluate(() => { location.hash = "#setup/sso"; });
  await second.page.waitForTimeout(300);
  result.finishedAfterBack = await second.page.locator('[data-testid="setup-finished"]').isVisible();
  await shot2("42-setup-finished");
  await second.context.close();
} catch (err) {
  problems.push(`step failed: ${err.message}`);
} finally {
  await browser.close();
}
result.problems = problems;
console.log(JSON.stringify(result));
process.exit(problems.length ? 1 : 0);
