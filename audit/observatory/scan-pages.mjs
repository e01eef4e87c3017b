#!/usr/bin/env node
// Score pages of a site with the MDN HTTP Observatory's own code, one JSON line each.
//
//   NODE_EXTRA_CA_CERTS=cert.pem node scan-pages.mjs --http-port 8080 \
//       https://localhost:8443/some-service/v1/ --source 127.1.0.7 https://localhost:8443/x
//
// The package's CLI (src/scan.js) scans "/" of a host name on ports 80 and
// 443 only, and refuses any page answered with a status other than 2xx, 3xx,
// 401 or 403. Bastion's deployment tests run nginx on free loopback ports and
// score every page, error pages included, so this file does what the
// package's scan() does (src/scanner/index.js, version pinned in
// package.json) with two differences: retrieve() gets the ports and the path
// (its own options), and no status is refused (the status is reported).
// Everything that judges a response -- the ten tests, the modifiers, the
// extra-credit rule, the grade -- is the package's code, imported.
//
// "--source ADDRESS" makes the following pages' connections come from that
// loopback address (127.0.0.0/8), so that each page is a client of its own
// to the app's rate limiter, as in the deployment tests: the scanner sends
// two GETs and an OPTIONS per page, and several pages share a route.
//
// The package's launcher (bin/wrapper.js) would replace NODE_EXTRA_CA_CERTS
// with Mozilla's bundle; run this file with node directly and pass the
// self-signed certificate, or the redirection test reports an invalid cert.
//
// Output: for each URL, one line of JSON
//   {"url", "status", "grade", "score", "tests": {name: {result, pass, modifier}}}
// or {"url", "error"}. Exit code 0, or 2 for bad arguments.

import http from "node:http";
import https from "node:https";
import { retrieve } from "@mdn/mdn-http-observatory/src/retriever/retriever.js";
import {
  ALL_TESTS,
  NUM_TESTS,
} from "@mdn/mdn-http-observatory/src/constants.js";
import { MINIMUM_SCORE_FOR_EXTRA_CREDIT } from "@mdn/mdn-http-observatory/src/grader/charts.js";
import {
  getGradeForScore,
  getScoreModifier,
} from "@mdn/mdn-http-observatory/src/grader/grader.js";

// Every connection the package opens goes through one of these agents'
// createConnection (its cookie agents subclass them and only add cookies).
let sourceAddress = null;
for (const Agent of [http.Agent, https.Agent]) {
  const original = Agent.prototype.createConnection;
  Agent.prototype.createConnection = function (options, ...rest) {
    const chosen = sourceAddress
      ? { ...options, localAddress: sourceAddress }
      : options;
    return original.call(this, chosen, ...rest);
  };
}

/** Score one page: the body of the package's scan(), without its status gate. */
async function scanPage(href, httpPort) {
  const url = new URL(href);
  const options = {
    httpsPort: url.port || undefined,
    httpPort: httpPort || undefined,
    path: url.pathname + url.search,
  };
  const r = await retrieve(url.hostname, options);
  if (!r.responses.auto) {
    return { url: href, error: "The site seems to be down." };
  }
  const results = ALL_TESTS.map((test) => test(r));
  let passed = 0;
  let withExtraCredit = 100;
  let uncurved = 100;
  const tests = {};
  for (const result of results) {
    let modifier = 0;
    if (result.result) {
      modifier = getScoreModifier(result.result);
      passed += result.pass ? 1 : 0;
      withExtraCredit += modifier;
      if (modifier < 0) {
        uncurved += modifier;
      }
    }
    tests[result.constructor.name] = {
      result: result.result,
      pass: result.pass,
      modifier,
    };
  }
  const score =
    uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? withExtraCredit : uncurved;
  const final = getGradeForScore(score);
  return {
    url: href,
    status: r.responses.auto.status,
    grade: final.grade,
    score: final.score,
    testsPassed: passed,
    testsQuantity: NUM_TESTS,
    tests,
  };
}

const args = process.argv.slice(2);
let httpPort = null;
const pages = [];
let source = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--http-port") {
    httpPort = args[++i];
  } else if (args[i] === "--source") {
    source = args[++i];
  } else {
    pages.push({ href: args[i], source });
  }
}
if (pages.length === 0) {
  console.error(
    "usage: scan-pages.mjs [--http-port N] [--source ADDRESS] https://host:port/path ..."
  );
  process.exit(2);
}
for (const { href, source } of pages) {
  // Kept-alive connections of the last page came from its address: close them.
  http.globalAgent.destroy();
  https.globalAgent.destroy();
  sourceAddress = source;
  let line;
  try {
    line = await scanPage(href, httpPort);
  } catch (e) {
    line = { url: href, error: e instanceof Error ? e.message : String(e) };
  }
  console.log(JSON.stringify({ ...line, source }));
}
