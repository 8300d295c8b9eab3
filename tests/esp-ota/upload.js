// Drives the third-party uploader `esp-ota` (npm) against an ArduinoOTA device, printing
// every state it reports so a test can see how far it got.
// Usage: node upload.js IP PORT FILE [PASSWORD] [TIMEOUT_SECONDS]
// Exit: 0 when esp-ota reports the upload done, 1 on its error, 2 on bad usage.
'use strict';

const EspOTA = require('esp-ota');

const [ip, port, file, password, timeout] = process.argv.slice(2);
if (!ip || !port || !file) {
  console.error('usage: node upload.js IP PORT FILE [PASSWORD] [TIMEOUT_SECONDS]');
  process.exit(2);
}

// Listen on any free port; 1460-byte chunks like the ESP8266 espota.py.
const ota = new EspOTA('0.0.0.0', 0, 1460, Number(timeout || 10));
if (password) {
  ota.setPassword(password);
}

ota.on('state', (state) => console.log(`state: ${state}`));

// Progress comes per chunk; quarter steps are enough to show the transfer moved.
let shown = -1;
ota.on('progress', (current, total) => {
  const quarter = Math.floor((current * 4) / total);
  if (quarter !== shown) {
    shown = quarter;
    console.log(`progress: ${current}/${total}`);
  }
});

ota.uploadFile(file, ip, Number(port), EspOTA.FLASH).then(
  () => {
    console.log('result: ok');
    process.exit(0);
  },
  (err) => {
    console.log(`result: error ${err && err.message ? err.message : err}`);
    process.exit(1);
  },
);
