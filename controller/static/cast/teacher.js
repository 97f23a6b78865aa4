// The teacher's page («/»): today's timetable from the journal (timetable.js; teachers only), the
// rooms of the school with what their screens show and the remote of the rooms the teacher has
// (rooms.js, remote.js), «Показать» (show.js), the lesson sets (lessons.js), the materials' upload
// (materials.js) and, for school IT, the school's alert (alerts.js). Everything is read from the API
// and kept current by Socket.IO's /ui (live.js); after a lost connection the rooms and alerts are read
// again, since events may have been missed meanwhile. The timetable is read again every minute.

import { get } from "../admin/api.js";
import { _ } from "../admin/i18n.js";
import { Notices } from "../admin/ui.js";
import { AlertDesk } from "./alerts.js";
import { LessonSets, LessonsSection } from "./lessons.js";
import { T as LIVE, connectLive } from "./live.js";
import { Materials, materialsSection } from "./materials.js";
import { RoomBoard } from "./rooms.js";
import { openShowDialog } from "./show.js";
import { Journal, TimetableStrip } from "./timetable.js";
import { personName } from "./values.js";

const T = {
  taken: (room, by) => _("%(room)s: экранами теперь управляет %(by)s.", { room, by }),
  takenBySomeone: (room) => _("%(room)s: экранами теперь управляет другой педагог.", { room }),
};

const root = document.getElementById("cast");
const me = Number(root.dataset.userId);
const notices = new Notices(document.getElementById("notices"));
const connection = document.getElementById("connection");
const materials = new Materials();
const lessonSets = new LessonSets();
const timetableRoot = document.getElementById("timetable");
const journal = timetableRoot ? new Journal() : null;

const showDialog = (options) =>
  openShowDialog({ board, materials, lessonSets, journal, notices, ...options });
const board = new RoomBoard({
  main: document.getElementById("rooms"),
  other: document.getElementById("rooms-other"),
  otherBox: document.getElementById("other-rooms"),
  empty: document.getElementById("rooms-empty"),
  me,
  notices,
  onShow: showDialog,
});
const lessons = new LessonsSection(document.getElementById("lessons"), {
  lessonSets,
  materials,
  notices,
  onShow: showDialog,
});
materialsSection(document.getElementById("materials"), { materials, notices });
if (journal) {
  new TimetableStrip(timetableRoot, { journal, onShow: showDialog });
  journal.onChange(() => {
    const lesson = journal.lessonNow();
    board.setLessonRoom(lesson?.room_id ?? null);
    board.setLessonNorm(lesson?.norm ?? null, journal.readAt);
  });
}
const alertRoot = document.getElementById("school-alert");
const alerts = alertRoot ? new AlertDesk(alertRoot, { scope: "school", notices }) : null;

async function loadRooms() {
  const rooms = document.getElementById("rooms");
  rooms.setAttribute("aria-busy", "true");
  try {
    board.setAll((await get("/api/cast/rooms")).rooms);
  } catch (exc) {
    notices.error(exc);
  } finally {
    rooms.setAttribute("aria-busy", "false");
  }
}

function showConnection(state) {
  connection.hidden = state === "online";
  if (state !== "online") connection.textContent = LIVE[state];
}

function taken({ room_id: roomId, name, by }) {
  const room = name || board.cards.get(roomId)?.snapshot.name || String(roomId);
  const who = personName(by);
  notices.show(who ? T.taken(room, who) : T.takenBySomeone(room), "warning");
}

document.getElementById("show-open").addEventListener("click", () => showDialog({}));
/** Whether a room's screens show a cast now (a blank screen is no screen work). */
function screenWork(snapshot) {
  return Boolean(snapshot?.cast && !(snapshot.cast.view || {}).blank);
}

function roomChanged(snapshot) {
  const before = board.cards.get(snapshot.room_id)?.snapshot;
  board.update(snapshot);
  // The lesson's screen time starts or stops counting: the timetable says how it stands now.
  if (snapshot.room_id === board.lessonRoom && screenWork(before) !== screenWork(snapshot)) journal?.load();
}

connectLive(
  { room: roomChanged, taken, alert: (alert) => alerts?.update(alert) },
  {
    onState: showConnection,
    onReconnect: () => {
      loadRooms();
      alerts?.load();
      journal?.load();
    },
  },
);
loadRooms();
materials.load().catch((exc) => notices.error(exc));
lessons.reload();
alerts?.load();
journal?.load();
journal?.keepCurrent();
