// Polls the status of the step under way every 2 s (a phone registering, a push
// approval) and, once it is no longer pending, submits the page's "continue" form, which
// the server checks again. A 408, 429 or 5xx (a throttle, a proxy, a restart) says
// nothing of the step: it polls again after its Retry-After, else after a wait doubling
// from 2 s, 30 s at most. Any other error (401, 403, 404, 409: the session or the step is
// over) submits the form, whose answer says why. Without this script the button does the
// same.
(function () {
  "use strict";
  var form = document.getElementById("poll");
  if (!form) { return; }
  var url = form.getAttribute("data-status");
  var csrf = form.querySelector("input[name=csrf]").value;
  var backoff = 2000;
  function later(ms) { setTimeout(poll, Math.min(Math.max(ms, 2000), 30000)); }
  function retry(r) {
    var s = r ? parseInt(r.headers.get("Retry-After"), 10) : NaN;
    later(s >= 0 ? s * 1000 : backoff);
    backoff = Math.min(backoff * 2, 30000);
  }
  function poll() {
    fetch(url, { headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.ok) { return r.json(); }
        if (r.status === 408 || r.status === 429 || r.status >= 500) { retry(r); return { state: "retry" }; }
        return { state: "stop" };
      })
      .then(function (s) {
        if (s.state === "retry") { return; }
        if (s.state === "pending") { backoff = 2000; later(2000); return; }
        form.submit();
      })
      .catch(function () { retry(null); });
  }
  later(2000);
})();
