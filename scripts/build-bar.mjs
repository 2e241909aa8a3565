// Builds what the service serves from the bar's readable sources (`npm run build`):
//   static/onebar.js          -> static/onebar.min.js          (/onebar.js)
//   static/onebar-handoff.js  -> static/onebar-handoff.min.js  (/onebar-handoff.js)
//   static/onebar-live.js     -> static/onebar-live.min.js     (/onebar-live.js)
// ?debug on any of those URLs serves the source instead.
//
// Two steps, both by pinned, well-kept tools (package-lock.json):
// 1. CSS written for people inside a script, as a template literal marked
//    /* css */ `...`, is minified by clean-css (level 1: whitespace, comments
//    and values; rules stay in the order written) and becomes a plain string.
// 2. terser minifies the script (terser.json; the two lazy modules are ES
//    modules, so they are parsed as such).
// tests/test_script_build.py runs this into a temporary directory and checks
// that what is committed is byte for byte its output.
//
// Usage: node scripts/build-bar.mjs [OUTPUT_DIR]   (default: static/)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import CleanCSS from 'clean-css';
import { minify } from 'terser';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STATIC = join(ROOT, 'static');
const OUT = process.argv[2] || STATIC;
const SOURCES = [
  { name: 'onebar', module: false },
  { name: 'onebar-handoff', module: true },
  { name: 'onebar-live', module: true },
];
const TERSER = JSON.parse(readFileSync(join(ROOT, 'terser.json'), 'utf8'));
const CSS_TEMPLATE = /\/\* css \*\/ `([^`$\\]*)`/g; // no ${}, no escapes: plain CSS only

const minifyCss = (css, where) => {
  const result = new CleanCSS({ level: 1 }).minify(css);
  const problems = [...result.errors, ...result.warnings];
  if (problems.length) throw new Error(`${where}: clean-css: ${problems.join('; ')}`);
  return result.styles;
};

for (const { name, module } of SOURCES) {
  const file = join(STATIC, name + '.js');
  const source = readFileSync(file, 'utf8');
  const withCss = source.replace(CSS_TEMPLATE, (_, css) => JSON.stringify(minifyCss(css, file)));
  const { code } = await minify(withCss, { ...TERSER, module });
  writeFileSync(join(OUT, name + '.min.js'), code);
}
