// Every page of the self-service page loads this. A page restored from the browser's
// back/forward cache (Back, Forward) is asked of the server again, as Cache-Control:
// no-store means and as browsers did before they kept no-store pages in that cache
// (Chromium does while no cookie changed): a set-up page's key and QR code, or a push
// activation code, would otherwise come back on Back after the factor was activated, for
// whoever sits at the browser next, from a page the server would no longer show. What the
// page showed is hidden at once, then the address is loaded again by GET (replace: no
// form posted again, no new history entry), and the server answers what it shows now.
(function () {
  "use strict";
  addEventListener("pageshow", function (e) {
    if (!e.persisted) { return; }
    if (document.body) { document.body.textContent = ""; }
    location.replace(location.href);
  });
})();
