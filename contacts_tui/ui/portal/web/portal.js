// The session's websocket is this page's own address (ws:// or wss://, by
// how the page came): the same behind a TLS proxy as on loopback, so the
// server never has to be told its public name.
document.addEventListener("DOMContentLoaded", function () {
  var url = new URL("ws", window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  document.querySelectorAll(".textual-terminal").forEach(function (terminal) {
    terminal.dataset.sessionWebsocketUrl = url.href;
  });
  // A new session is a new page load; no inline handlers (the CSP allows none).
  ["start", "restart"].forEach(function (id) {
    document.getElementById(id).addEventListener("click", function () {
      window.location.replace(window.location.pathname);
    });
  });
});
