// The live link to the controller: Socket.IO's namespace /ui (the client is static/vendor/socketio,
// loaded before this module; the session cookie signs it in). The server sends a `room` snapshot on
// every change, `taken` when another teacher takes one of our rooms, `alert` on every acknowledgement
// batch. The client reconnects on its own; events missed meanwhile are made good by `onReconnect`,
// which reads the state again. A connection the server refused (a session that ended) is retried
// after asking /api/session, which sends a signed-out browser to the sign-in page.

import { get } from "../admin/api.js";
import { _ } from "../admin/i18n.js";

const RETRY_MS = 5000;

export const T = {
  offline: _("Нет связи с сервером: состояние экранов может быть устаревшим. Переподключаемся…"),
  unavailable: _("Живые обновления недоступны: обновите страницу, чтобы увидеть новое состояние экранов."),
};

/**
 * Connect to /ui; return the socket (null when the client library is missing).
 * handlers: {room, taken, alert} for the server's events; onReconnect() after a connection came
 * back; onState("online" | "offline" | "unavailable") for the page's connection notice.
 */
export function connectLive(handlers, { onReconnect = () => {}, onState = () => {} } = {}) {
  if (typeof window.io !== "function") {
    onState("unavailable");
    return null;
  }
  const socket = window.io("/ui", { withCredentials: true });
  let connectedBefore = false;
  for (const [event, handler] of Object.entries(handlers)) socket.on(event, handler);
  socket.on("connect", () => {
    onState("online");
    if (connectedBefore) onReconnect();
    connectedBefore = true;
  });
  // The server refused or dropped us on purpose, so the client will not retry by itself: find out
  // whether the session ended (a 401 goes to the sign-in page), then try again.
  const retryLater = () =>
    setTimeout(async () => {
      try {
        await get("/api/session");
      } catch {
        // A network failure: the next attempt will tell.
      }
      socket.connect();
    }, RETRY_MS);
  socket.on("disconnect", (reason) => {
    onState("offline");
    if (reason === "io server disconnect") retryLater();
  });
  socket.on("connect_error", () => {
    onState("offline");
    if (!socket.active) retryLater(); // an active socket retries with its own backoff
  });
  return socket;
}
