// Screenshot of a Dagster asset graph page, after dismissing the first-visit dialog. Usage: node screenshot_asset_graph.js URL OUT.png
const { chromium } = require("playwright-core");

(async () => {
  const [url, out] = process.argv.slice(2);
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
  await page.waitForTimeout(2500);
  await page.screenshot({ path: out });
  await browser.close();
})();
