// Karma config for the library specs: headless Debian Chromium, no downloads, and a tiny
// reporter that writes the real pass/fail counts for scripts/test.mjs to print.
const fs = require('node:fs');
const path = require('node:path');

const { CHROME_BIN, CHROMIUM_FLAGS } = require('../../scripts/chromium.cjs');

process.env.CHROME_BIN = CHROME_BIN;

function CountsReporter(baseReporterDecorator, config) {
  baseReporterDecorator(this);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  this.onSpecComplete = (_browser, result) => {
    if (result.skipped || result.pending) counts.skipped++;
    else if (result.success) counts.passed++;
    else counts.failed++;
  };
  this.onRunComplete = (_browsers, results) => {
    if (results.error && counts.failed === 0) counts.failed = 1; // a crash before specs ran still fails
    const out = process.env.NFT_COUNTS_FILE;
    if (out) {
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify(counts));
    }
  };
}
CountsReporter.$inject = ['baseReporterDecorator', 'config'];

module.exports = function (config) {
  config.set({
    basePath: '',
    frameworks: ['jasmine'],
    plugins: [
      require('karma-jasmine'),
      require('karma-chrome-launcher'),
      { 'reporter:nft-counts': ['type', CountsReporter] },
    ],
    client: { jasmine: { random: true, failSpecWithNoExpectations: true }, clearContext: false },
    reporters: ['progress', 'nft-counts'],
    customLaunchers: {
      ChromeHeadlessCI: {
        base: 'ChromeHeadless',
        flags: CHROMIUM_FLAGS,
      },
    },
    browsers: ['ChromeHeadlessCI'],
    singleRun: true,
    restartOnFileChange: false,
    browserNoActivityTimeout: 120000,
  });
};
