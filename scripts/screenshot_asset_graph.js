// Screenshot of a Dagster page, after dismissing the first-visit dialog and, when given, clicking
// the button labelled CLICK (a view that is not in the URL, like an asset's Plots). Usage:
// node screenshot_asset_graph.js URL OUT.png [CLICK]
const { chromium } = require("playwright-core");

(async () => {
  const [url, out, click] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1700, height: 1000 } });
  await page.goto(url, { waitUntil: "networkidle" });
  const skip = page.getByRole("button", { name: "Skip" });
  await skip.waitFor({ timeout: 15000 }).then(() => skip.click()).catch(() => {});
  await page.waitForTimeout(1000);
  if (click) {
    await page.getByText(click, { exact: true }).first().click({ timeout: 15000 });
  }
  await page.waitForTimeout(2500);
  await page.screenshot({ path: out, fullPage: Boolean(click) });
  await browser.close();
})();
