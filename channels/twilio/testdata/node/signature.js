// Signs and checks Twilio webhooks with Twilio's own Node library (npm
// twilio), for the Go tests. Reads a JSON array of {token, url, params,
// signature} on stdin; writes, for each, the signature the library expects
// and whether it accepts the given one.
'use strict';
const twilio = require('twilio');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((r) => ({
    signature: twilio.getExpectedTwilioSignature(r.token, r.url, r.params),
    valid: twilio.validateRequest(r.token, r.signature || '', r.url, r.params),
  }));
  process.stdout.write(JSON.stringify(out));
});
