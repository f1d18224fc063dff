// End-to-end test of mcsession-demo in real headless Chromium: log in
// through the form, see the greeting, check that the stylesheet applied
// (the Content-Security-Policy lets it in) and the session cookie's
// flags, count, log out and see it confirmed; sign in from a tab whose
// form went stale meanwhile (signed in and out in another tab) and get a
// fresh form that says so and works; log out everywhere, confirmed.
// "Your sessions" with two browsers (contexts: two cookie jars) signed
// in as the same user: the first sees two rows, this device marked, ends
// the second, whose next request finds it signed out; signed in again,
// the second is ended by the first's "Log out everywhere else", which
// leaves the first signed in.
// Saves screenshots to OUTDIR: e2e-login.png (the form), e2e-count.png
// (the counter), e2e-demo.png (the greeting after counting),
// e2e-stale.png (the fresh form after a stale one), e2e-sessions.png
// (the sessions page with two rows).
//
// Usage: node demo.e2e.mjs PATH/TO/mcsession-demo OUTDIR
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [demoPath, outDir] = process.argv.slice(2);
if (!demoPath || !outDir) {
  console.error('usage: node demo.e2e.mjs PATH/TO/mcsession-demo OUTDIR');
  process.exit(2);
}

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu',
  '--disable-background-networking', '--disable-quic', '--no-first-run',
  '--disable-component-update', '--disable-sync',
];
const NAME = 'Ada <Lovelace> & "friends"';

// Starts the demo on a free port; resolves to { proc, url } once it has
// printed its URL.
function startDemo() {
  const proc = spawn(demoPath, ['--listen', '127.0.0.1:0'],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('demo printed no URL')),
                             10000);
    proc.on('exit', (code) => reject(new Error(`demo exited ${code}`)));
    createInterface({ input: proc.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = line.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve({ proc, url: m[0]});
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
}

function step(what) { console.log(`- ${what}`); }

async function loginThroughTheForm(page, url, shot = true) {
  await page.goto(url);
  assert.equal(new URL(page.url()).pathname, '/login', 'not sent to /login');
  assert.equal(await page.textContent('h1'), 'Sign in');
  await page.fill('#name', NAME);
  if (shot) await page.screenshot({ path: join(outDir, 'e2e-login.png') });
  await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('#greeting'), `What's up, ${NAME}?`);
}

async function checkCookie(context, page, url) {
  const cookies = await context.cookies(url);
  const session = cookies.find((c) => c.name === 'session');
  assert.ok(session, `no session cookie in ${JSON.stringify(cookies)}`);
  assert.equal(session.httpOnly, true, 'session cookie is not HttpOnly');
  assert.equal(session.sameSite, 'Lax', 'session cookie is not SameSite=Lax');
  assert.equal(session.path, '/');
  const visible = await page.evaluate(() => document.cookie);
  assert.ok(!visible.includes('session='), 'script can read the cookie');
}

// The page's stylesheet (GET /style.css) loaded and applied: the body's
// background is the one it sets, and the browser reported no CSP
// violation.
async function checkStyled(page, violations) {
  const background = await page.evaluate(
    () => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(243, 244, 246)', 'stylesheet not applied');
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
}

async function count(page, url) {
  for (let i = 1; i <= 3; i++) {
    await page.goto(new URL('/count', url).href);
    assert.equal(await page.textContent('#count'), String(i));
  }
  await page.screenshot({ path: join(outDir, 'e2e-count.png') });
  await page.goto(url);
  assert.equal(await page.textContent('#count'), '3');
}

// Clicks a logout button; the sign-in page it lands on says what
// happened (it used to look the same as before signing in).
async function logout(page, url, button, notice) {
  await Promise.all([page.waitForURL(/\/login\?notice=/),
                     page.click(`button:text-is("${button}")`)]);
  assert.equal(await page.textContent('#notice'), notice);
  assert.equal(await page.textContent('h1'), 'Sign in');
  await page.goto(url);
  assert.equal(new URL(page.url()).pathname, '/login', 'still logged in');
  assert.equal(await page.$('#notice'), null, 'notice on a plain visit');
}

// A sign-in tab left open while another tab signs in and out: its form's
// token no longer verifies. The demo answers with a fresh form that says
// so in plain words (no "XSRF", no "reload": reloading would resend the
// stale token), and that form signs in.
async function staleTabLogin(context, page, url) {
  await page.goto(url); // the sign-in form, left open
  const other = await context.newPage();
  await loginThroughTheForm(other, url, false);
  await logout(other, url, 'Log out', 'You are signed out.');
  await other.close();
  await page.fill('#name', NAME);
  await Promise.all([page.waitForURL(/\/login\?notice=form-expired$/),
                     page.click('button[type=submit]')]);
  const notice = await page.textContent('#notice');
  assert.match(notice, /^This form was open too long .* Please sign in again\.$/);
  assert.ok(!/xsrf|reload/i.test(await page.textContent('main')),
            'the page speaks of tokens or reloading');
  await page.screenshot({ path: join(outDir, 'e2e-stale.png') });
  await page.fill('#name', NAME);
  await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
  assert.equal(await page.textContent('#greeting'), `What's up, ${NAME}?`);
}

// The sessions page as `page` sees it: its rows, and which is this
// device's.
async function sessionRows(page) {
  return page.$$eval('li.session', (rows) => rows.map((row) => ({
    here: row.getAttribute('aria-current') === 'true',
    device: row.querySelector('.device').textContent,
    marked: row.querySelector('#this-device') !== null,
  })));
}

async function openSessions(page, url) {
  await page.goto(url);
  await Promise.all([page.waitForURL(/\/sessions$/),
                     page.click('#sessions-link')]);
  assert.equal(await page.textContent('h1'), 'Your sessions');
  return sessionRows(page);
}

async function signedOut(page, url) {
  await page.goto(url);
  return new URL(page.url()).pathname === '/login';
}

// Clicks a button on the sessions page; lands on it again with a notice.
async function sessionsAction(page, button, notice) {
  await Promise.all([page.waitForURL(/\/sessions\?notice=/),
                     page.click(button)]);
  assert.match(await page.textContent('#notice'), notice);
}

async function yourSessions(url) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
  });
  try {
    const [first, second] = await Promise.all(
      [0, 1].map(async () => {
        const context = await browser.newContext(
          { viewport: { width: 900, height: 700 } });
        const page = await context.newPage();
        page.setDefaultTimeout(15000);
        return page;
      }));
    await loginThroughTheForm(first, url, false);
    await loginThroughTheForm(second, url, false);
    step('the first browser sees two sessions, itself marked');
    let rows = await openSessions(first, url);
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.deepEqual(rows.map((r) => r.here).sort(), [false, true]);
    assert.ok(rows.every((r) => r.marked === r.here), 'mark on another row');
    assert.ok(rows.every((r) => /Chrome on Linux$/.test(r.device)),
              `devices: ${rows.map((r) => r.device)}`);
    await first.mouse.move(0, 0);
    await first.screenshot({ path: join(outDir, 'e2e-sessions.png') });
    step('it ends the second, which is signed out at its next request');
    await sessionsAction(first, 'li.session:not([aria-current]) ' +
                         'button:text-is("End")', /^That session has ended/);
    assert.equal((await sessionRows(first)).length, 1);
    assert.ok(await signedOut(second, url), 'the ended session still works');
    assert.ok(!await signedOut(first, url), 'the first was signed out');
    step('"Log out everywhere else" ends the second again, not the first');
    await loginThroughTheForm(second, url, false);
    assert.equal((await openSessions(first, url)).length, 2);
    await sessionsAction(first, 'button:text-is("Log out everywhere else")',
                         /^Your other sessions have ended/);
    rows = await sessionRows(first);
    assert.deepEqual(rows.map((r) => r.here), [true]);
    assert.ok(await signedOut(second, url), 'the other session still works');
    assert.ok(!await signedOut(first, url), 'this device was signed out');
  } finally {
    await browser.close();
  }
}

async function run(url) {
  const profile = mkdtempSync(join(tmpdir(), 'mcs-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: CHROMIUM_ARGS, viewport: { width: 900, height: 600 },
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15000);
    const violations = [];
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
    step('log in through the form'); await loginThroughTheForm(page, url);
    step('stylesheet applied, no CSP violation');
    await checkStyled(page, violations);
    step('session cookie is HttpOnly, SameSite=Lax');
    await checkCookie(context, page, url);
    step('count three visits'); await count(page, url);
    await page.mouse.move(0, 0); // no hover effects in the picture
    await page.screenshot({ path: join(outDir, 'e2e-demo.png') });
    step('log out, confirmed');
    await logout(page, url, 'Log out', 'You are signed out.');
    step('sign in from a stale tab: a fresh form that says so');
    await staleTabLogin(context, page, url);
    step('log out everywhere, confirmed');
    await logout(page, url, 'Log out everywhere',
                 'You are signed out on every device.');
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  await yourSessions(url);
}

const watchdog = setTimeout(() => {
  console.error('e2e: timed out');
  process.exit(1);
}, 120000);
const { proc, url } = await startDemo();
let failed = false;
try {
  await run(url);
  console.log(`e2e: passed; screenshots in ${outDir}`);
} catch (err) {
  failed = true;
  console.error(`e2e: FAILED: ${err.stack || err}`);
} finally {
  proc.removeAllListeners('exit');
  process.kill(proc.pid, 'SIGTERM');
  clearTimeout(watchdog);
}
process.exitCode = failed ? 1 : 0;
