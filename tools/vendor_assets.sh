#!/usr/bin/env bash
# Vendor the JavaScript the book needs offline (MathJax 3, require.js and the Jupyter
# widgets HTML manager) from npm into book/_vendor/vendor/. Sphinx copies that folder to
# the site root (html_extra_path), so no page loads a script from another site.
# It is not under _static/, whose scripts the theme may inject into every page.
set -euo pipefail
cd "$(dirname "$0")/.."
NPM_DIR=_build/npm
OUT=book/_vendor/vendor
STAMP=book/_vendor/.done

if [ -f "$STAMP" ] && [ "$STAMP" -nt tools/vendor_assets.sh ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "vendor_assets: npm is needed (Node.js)"; exit 1; }
mkdir -p "$NPM_DIR"
npm install --prefix "$NPM_DIR" --no-audit --no-fund --silent --no-save \
  "mathjax@^3.2.2" "requirejs@^2.3.6" "@jupyter-widgets/html-manager@^1.0.11"
M="$NPM_DIR/node_modules"
rm -rf book/_vendor
mkdir -p "$OUT/mathjax" "$OUT/html-manager"
cp -r "$M/mathjax/es5/." "$OUT/mathjax/"
cp "$M/mathjax/LICENSE" "$OUT/mathjax/LICENSE"
cp "$M/requirejs/require.js" "$OUT/require.js"
find "$M/@jupyter-widgets/html-manager/dist" -maxdepth 1 -type f ! -name '*.map' ! -name 'embed.js*' \
  -exec cp {} "$OUT/html-manager/" \;
cp "$M/@jupyter-widgets/html-manager/LICENSE" "$OUT/html-manager/LICENSE" 2>/dev/null || true
touch "$STAMP"
echo "vendored MathJax, require.js and the widgets HTML manager into $OUT ($(du -sh "$OUT" | cut -f1))"
