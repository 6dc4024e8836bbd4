/**
 * Opens an nbconvert HTML export of the magics notebook in Debian's Chromium
 * (playwright-core, no server, no network) and checks that the magics'
 * outputs are inert: no dialog opens, no <img>, <script>, <iframe> or event
 * handler attribute exists inside them, and the planted user strings are
 * shown as text. Screenshots the first output of each view asked for.
 *
 * Usage: node check-export.js EXPORT.html OUT_DIR [VIEW...]
 * Prints one JSON line; exits 1 when a check fails.
 */
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
  const [html, outDir, ...views] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.MD_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run'
    ]
  });
  try {
    const page = await browser.newPage({
      viewport: { width: 1100, height: 800 }
    });
    // The export's template loads require.js and MathJax from a CDN: refuse
    // every request to the network so the result is the same offline.
    await page.route(/^https?:/, route => route.abort());
    const dialogs = [];
    page.on('dialog', dialog => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto('file://' + path.resolve(html));
    const outputs = page.locator('.jp-MemoryDoctor-out');
    await outputs.first().waitFor();
    const found = await outputs.evaluateAll(nodes =>
      nodes.map(node => ({
        active: node.querySelectorAll('img, script, iframe, object, embed, a')
          .length,
        handlers: [...node.querySelectorAll('*')].filter(el =>
          [...el.attributes].some(a => a.name.startsWith('on'))
        ).length,
        text: node.innerText
      }))
    );
    const shots = [];
    for (const view of views) {
      const target = page.locator(`.jp-MemoryDoctor-out[data-view="${view}"]`);
      if ((await target.count()) > 0) {
        const file = path.join(outDir, `html-${view}.png`);
        await target.first().screenshot({ path: file });
        shots.push(file);
      }
    }
    const report = {
      outputs: found.length,
      active: found.reduce((n, o) => n + o.active + o.handlers, 0),
      dialogs,
      texts: found.map(o => o.text),
      shots
    };
    console.log(JSON.stringify(report));
    return report.active === 0 && dialogs.length === 0 ? 0 : 1;
  } finally {
    await browser.close();
  }
}

main().then(
  code => process.exit(code),
  error => {
    console.error(error);
    process.exit(2);
  }
);
