// Оповещения («/alerts»), for municipal staff and school IT: send an alert to every screen of one's
// municipality or school, follow its acknowledgements live (Socket.IO `alert` events on /ui), clear it.
// The active alerts are read again after a lost connection.

import { Notices } from "../admin/ui.js";
import { AlertDesk } from "./alerts.js";
import { T as LIVE, connectLive } from "./live.js";

const root = document.getElementById("alerts-page");
const notices = new Notices(document.getElementById("notices"));
const connection = document.getElementById("connection");
const scope = root.dataset.role === "municipal" ? "municipality" : "school";
const desk = new AlertDesk(document.getElementById("alert-desk"), { scope, notices });

connectLive(
  { alert: (alert) => desk.update(alert) },
  {
    onState: (state) => {
      connection.hidden = state === "online";
      if (state !== "online") connection.textContent = LIVE[state];
    },
    onReconnect: () => desk.load(),
  },
);
desk.load();
