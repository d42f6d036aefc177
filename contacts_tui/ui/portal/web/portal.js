// Why a session ended: the server gives it as the websocket's close reason
// (signed out, the session's time is up, an error's reference), and the page
// shows it under "Session ended." textual.js opens the websocket itself, so
// the constructor it calls is wrapped here, before it loads.
(function () {
  var Native = window.WebSocket;
  function PortalWebSocket(url, protocols) {
    var socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    socket.addEventListener("close", function (event) {
      var why = document.getElementById("ended-why");
      if (why && event.reason) {
        why.textContent = event.reason;
      }
    });
    return socket;
  }
  PortalWebSocket.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    PortalWebSocket[name] = Native[name];
  });
  window.WebSocket = PortalWebSocket;
})();

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
  // Typing goes to the portal from the start, no click first: once the
  // terminal draws, it takes the keyboard focus (a loaded page gives it to
  // the body, which takes no keys), unless something else has it by then.
  var watcher = new MutationObserver(function () {
    if (!document.body.classList.contains("-first-byte")) {
      return;
    }
    watcher.disconnect();
    var input = document.querySelector(".textual-terminal .xterm-helper-textarea");
    if (input && (document.activeElement === null || document.activeElement === document.body)) {
      input.focus();
    }
  });
  watcher.observe(document.body, { attributes: true, attributeFilter: ["class"] });
  // A new session is a new page load; no inline handlers (the CSP allows none).
  ["start", "restart"].forEach(function (id) {
    document.getElementById(id).addEventListener("click", function () {
      window.location.replace(window.location.pathname);
    });
  });
});
