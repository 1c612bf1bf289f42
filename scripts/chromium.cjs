// Debian's Chromium as every browser test here launches it: no browser download, runs as root,
// and no background networking (the machines have no outside network).
module.exports = {
  CHROME_BIN: process.env.CHROME_BIN || '/usr/bin/chromium',
  CHROMIUM_FLAGS: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
  ],
};
