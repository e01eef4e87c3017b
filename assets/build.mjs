// Builds Bastion's trimmed Bootstrap into committed source files that
// webassets then minifies, hashes and precompresses (app/assets.py):
//
//   scss/bastion.scss -> <out>/bootstrap.css  (Dart Sass, only the Bootstrap parts the
//                                              templates use, plus Bastion's own styles)
//   js/bootstrap.js   -> <out>/bootstrap.js   (esbuild, only Alert, Collapse and Modal
//                                              from Bootstrap's js/src; no Popper)
//
// Usage: node build.mjs [--out DIR]   (default ../app/static/src/vendor)
// The output depends only on the pinned packages (package-lock.json) and these
// sources: tests/test_vendor_assets.py rebuilds into a temporary folder and
// compares byte for byte with the committed files.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf("--out");
const out = resolve(outFlag > 0 ? process.argv[outFlag + 1] : join(here, "..", "app", "static", "src", "vendor"));
const version = (name) => JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;
const banner = (what) =>
  `/*! ${what} of Bootstrap v${version("bootstrap")} (MIT, https://github.com/twbs/bootstrap/blob/main/LICENSE),` +
  ` built by assets/build.mjs (make vendor-assets) with sass ${version("sass")} and esbuild ${version("esbuild")}. */\n`;

mkdirSync(out, { recursive: true });

const css = sass.compile(join(here, "scss", "bastion.scss"), {
  loadPaths: [join(here, "node_modules")],
  style: "expanded",
  // sass is pinned to the version Bootstrap 5.3.8 is built with (1.78.0): later ones
  // warn about Bootstrap's @import and global functions and print colours as rgb(%).
  quietDeps: true,
});
writeFileSync(join(out, "bootstrap.css"), banner("The parts Bastion uses") + css.css + "\n");

const js = await esbuild.build({
  entryPoints: [join(here, "js", "bootstrap.js")],
  bundle: true,
  format: "iife",
  globalName: "bootstrap", // window.bootstrap.Modal etc., as in Bootstrap's own bundle
  minify: true,
  legalComments: "none",
  // ES2019: optional chaining and ?? are lowered, so Safari 12 and Chrome 60+ (Bootstrap
  // 5.3's oldest browsers) run it; esbuild cannot lower destructuring for those targets.
  target: "es2019",
  write: false,
  logLevel: "warning",
});
writeFileSync(join(out, "bootstrap.js"), banner("Alert, Collapse and Modal") + js.outputFiles[0].text);
console.log(`built ${join(out, "bootstrap.css")} and ${join(out, "bootstrap.js")}`);
