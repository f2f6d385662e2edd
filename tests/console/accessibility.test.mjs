// Accessibility, checked rather than claimed: every page of the console (and the sign-in page)
// run through axe-core's WCAG 2.1 A/AA rules in Chromium, at 1280×800, in the light and the
// dark theme. A serious or critical violation fails the test with the rule, its help text and
// the elements it names. axe is injected by the test (with the page's CSP bypassed for that
// one script); the console itself loads nothing but its own files.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, newContext, requireConsole, startServer } from './harness.mjs';
import { assert, openPage, PAGES, signIn, ui, visible } from './ui.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RULES = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe's serious and critical violations on the page as it is now, as readable lines. */
async function violations(page) {
  await page.addScriptTag({ content: AXE });
  const found = await page.evaluate(
    async (tags) => (await window.axe.run(document, { runOnly: { type: 'tag', values: tags } })).violations,
    RULES,
  );
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('the console is accessible (axe-core, WCAG 2.1 AA)', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({ fill: false });
    await requireConsole(server);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const colorScheme of ['light', 'dark']) {
    test(`the sign-in page and every page, ${colorScheme} theme`, async () => {
      const context = await newContext(browser, { colorScheme, bypassCSP: true });
      const page = await context.newPage();
      try {
        const problems = [];
        await page.goto(server.uiUrl);
        await visible(ui.tokenInput(page));
        problems.push(...(await violations(page)).map((v) => `sign-in: ${v}`));
        await signIn(page, server, server.adminToken);
        for (const name of PAGES) {
          await openPage(page, name);
          // Let the page's data arrive before it is judged.
          await page.waitForLoadState('networkidle');
          problems.push(...(await violations(page)).map((v) => `${name}: ${v}`));
        }
        assert.deepEqual(problems, [], problems.join('\n'));
      } finally {
        await context.close();
      }
    });
  }
});
