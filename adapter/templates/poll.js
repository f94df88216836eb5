// Polls the status of the step under way every 2 s (a phone registering, a push
// approval) and, once it is no longer pending, submits the page's "continue" form, which
// the server checks again. Without this script the button does the same.
(function () {
  "use strict";
  var form = document.getElementById("poll");
  if (!form) { return; }
  var url = form.getAttribute("data-status");
  var csrf = form.querySelector("input[name=csrf]").value;
  var done = false;
  function poll() {
    if (done) { return; }
    fetch(url, { headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { state: "stop" }; })
      .then(function (s) {
        if (s.state === "pending") { setTimeout(poll, 2000); return; }
        done = true;
        form.submit();
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
