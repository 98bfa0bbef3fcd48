# A real browser for the picture tests: Debian's chromium, headless. Source after lib.sh.
#   browser_dom URL OUT [MS]      the DOM after load (and MS ms of page time for its scripts)
#   browser_screenshot URL PNG WIDTH HEIGHT
# Only a machine where chromium cannot run at all skips, and says why; chromium is a package of
# scripts/packages.txt, so on a machine set up by scripts/setup.sh these tests run.
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ]; then
  echo "SKIP: chromium is not installed (apt-get install chromium; scripts/setup.sh installs it)"
  exit 77
fi
browser_profile="$work/chromium-profile"
browser() {
  # --no-sandbox: root (CI) cannot use the sandbox; the pages are our own files and loopback.
  timeout 120 "$chromium_bin" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$browser_profile" --disable-dev-shm-usage "$@" 2>>"$work/chromium.log"
}
if ! browser --dump-dom "data:text/html,<p id=probe>ok</p>" | grep -q 'id="probe"'; then
  echo "SKIP: chromium is installed but cannot run here: $(tail -3 "$work/chromium.log")"
  exit 77
fi
browser_dom() { browser --virtual-time-budget="${3:-2000}" --dump-dom "$1" >"$2"; }
browser_screenshot() {
  browser --virtual-time-budget=2000 --window-size="$3,$4" --screenshot="$2" "$1" >/dev/null
}
# keep_screenshot PNG NAME: copies a screenshot to $BRIX_SCREENSHOT_DIR (docs/img when refreshing
# the README's pictures) when that is set.
keep_screenshot() {
  if [ -n "${BRIX_SCREENSHOT_DIR:-}" ]; then
    mkdir -p "$BRIX_SCREENSHOT_DIR" && cp "$1" "$BRIX_SCREENSHOT_DIR/$2"
  fi
}
# expect_png PNG: a PNG of some substance (not an empty or failed capture).
expect_png() {
  checks=$((checks + 1))
  [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && [ "$(stat -c %s "$1")" -gt 10000 ] ||
    fail "screenshot $1 missing or empty"
}
