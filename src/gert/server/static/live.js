// gert serve: keeps a page current while a chain runs. The element marked data-live
// names a stream of server-sent events; on each "changed" the page is fetched again and
// that element swapped for its new version. Without JavaScript the page is still whole:
// reload it.
(function () {
  "use strict";
  var marked = document.querySelector("[data-live]");
  if (!marked || !window.EventSource || !window.fetch) return;
  var source = new EventSource(marked.getAttribute("data-live"));
  var busy = false;
  source.addEventListener("changed", function () {
    if (busy) return;
    busy = true;
    fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live]");
        var current = document.querySelector("[data-live]");
        if (fresh && current) current.replaceWith(document.importNode(fresh, true));
      })
      .finally(function () { busy = false; });
  });
})();
