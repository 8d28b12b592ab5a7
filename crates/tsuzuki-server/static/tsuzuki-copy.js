// "Copy details for support" on error pages (S11). Without this script the details are still
// on the page to select by hand; with it, one button copies them.
(() => {
  'use strict';
  const button = document.getElementById('support-copy');
  const source = button && document.getElementById(button.dataset.copy);
  if (!button || !source || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(source.textContent);
      button.textContent = button.dataset.copied;
    } catch (_) {
      // The clipboard was refused (permissions): select the text so that Ctrl+C works.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  });
})();
