# What scripts/install-controller and scripts/install-panel share. Sourced, never run.
#
# Every step prints one line: "changed", "unchanged", "checked" or "skipped", and what. Under --dry-run
# a step that would change something prints "would" and then each command it would run ("$ …"), and
# nothing is changed. Running an installer twice changes nothing the second time.
#
# Layout: /opt/classcast/releases/<version>-<source hash>/ is one virtual environment per release;
# /opt/classcast/venv points at the active one (the units run from there) and /opt/classcast/previous
# at the one before, which `--rollback` brings back. Older releases are removed. /etc/classcast and
# /var/lib/classcast are never rewritten by an upgrade.
# shellcheck shell=bash disable=SC2034 # it sets variables (ROLLBACK, USED, …) that the installers read

ROOT=/
DRY_RUN=0
ROLLBACK=0
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WHEEL=
PYTHON=/usr/bin/python3
PREFIX=/opt/classcast
CHANGES=0
RELEASE_CHANGED=0
UNITS_CHANGED=0

# The files a release is built from: the distribution's metadata and its import packages.
SOURCE_PARTS=(pyproject.toml README.md classcast controller player agent)

die() {
  printf '%s: %s\n' "$(basename "$0")" "$1" >&2
  exit 1
}

report() { printf '%-9s %s\n' "$1" "$2"; }
unchanged() { report unchanged "$1"; }
skipped() { report skipped "$1"; }
checked() { report checked "$1"; }

# apply DESCRIPTION FUNCTION [ARGS…]: make a change (FUNCTION runs its commands through `run`).
apply() {
  local description=$1
  shift
  if [ "$DRY_RUN" = 1 ]; then
    report would "$description"
    "$@"
  else
    "$@"
    CHANGES=$((CHANGES + 1))
    report changed "$description"
  fi
}

# run COMMAND [ARGS…]: run it; under --dry-run only show it.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '          $ %s\n' "$(quoted "$@")"
  else
    "$@"
  fi
}

# run_into FILE COMMAND [ARGS…]: FILE becomes COMMAND's output (whole or not at all); --dry-run shows it.
run_into() {
  local file=$1
  shift
  if [ "$DRY_RUN" = 1 ]; then
    printf '          $ %s > %s\n' "$(quoted "$@")" "$(quoted "$file")"
  else
    "$@" >"$file.new"
    mv -f "$file.new" "$file"
  fi
}

quoted() {
  local out="" word
  for word in "$@"; do out+=" $(printf '%q' "$word")"; done
  printf '%s' "${out# }"
}

# at PATH: where PATH of the installed system is for this run (under --root DIR: DIR/PATH).
at() {
  if [ "$ROOT" = / ]; then printf '%s' "$1"; else printf '%s%s' "${ROOT%/}" "$1"; fi
}

on_host() { [ "$ROOT" = / ]; }
systemd_running() { on_host && [ -d /run/systemd/system ]; }
user_exists() { on_host && getent passwd "$1" >/dev/null; }
# user_in_plan NAME: the user exists, or (under --dry-run) an earlier step would have made it.
user_in_plan() { user_exists "$1" || { on_host && [ "$DRY_RUN" = 1 ]; }; }

# parse_common_option ARGS…: handle an option both installers take; sets USED to the words it took (0: not one).
parse_common_option() {
  USED=1
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --rollback) ROLLBACK=1 ;;
    --root) ROOT=$(realpath -m "$(value_of "$@")") && USED=2 ;;
    --source) SOURCE=$(realpath "$(value_of "$@")") && USED=2 ;;
    --wheel) WHEEL=$(realpath "$(value_of "$@")") && USED=2 ;;
    --python) PYTHON=$(value_of "$@") && USED=2 ;;
    *) USED=0 ;;
  esac
}

# value_of OPTION [VALUE]: VALUE, or stop with a message naming OPTION when there is none.
value_of() {
  [ $# -ge 2 ] || die "$1 needs a value"
  printf '%s' "$2"
}

COMMON_USAGE='  --dry-run        print every step and command; change nothing
  --root DIR       install into DIR instead of / (an image, a test); packages, users and services
                   are left alone, and the virtual environment is built at its path inside DIR
  --source DIR     build the release from this source tree (default: the tree this script is in)
  --wheel FILE     build the release from this wheel instead
  --python PY      the interpreter of the virtual environment (default: /usr/bin/python3)
  --rollback       make the previous release the active one again, and restart'

check_system() {
  [ "$DRY_RUN" = 1 ] || ! on_host || [ "$(id -u)" -eq 0 ] || die "run as root (or with --dry-run, or --root DIR)"
  if [ -n "$WHEEL" ]; then
    [ -f "$WHEEL" ] || die "no wheel at $WHEEL"
  else
    [ -f "$SOURCE/pyproject.toml" ] || die "no ClassCast source tree at $SOURCE (pyproject.toml missing)"
  fi
  if on_host && [ -r /etc/os-release ] && ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
    echo "note: made for Debian 12 / Raspberry Pi OS Bookworm; this system is not one of them" >&2
  fi
  umask 022 # nothing installed is writable by anyone but root
}

# --- packages and users ----------------------------------------------------------------------------

step_packages() {
  if ! on_host; then
    skipped "packages ($*): --root installs into a directory, not this system"
    return
  fi
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    unchanged "packages: $*"
  else
    apply "install packages: ${missing[*]}" install_packages "${missing[@]}"
  fi
}

install_packages() {
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# step_user NAME [GROUP…]: a system user with no password, no shell, no home; in GROUPs that exist.
step_user() {
  local name=$1 group
  shift
  if ! on_host; then
    skipped "user $name: --root leaves users to the system the directory becomes"
    return
  fi
  if getent passwd "$name" >/dev/null; then
    unchanged "user $name"
  else
    apply "create system user $name (no password, no login shell)" \
      run useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$name"
  fi
  for group in "$@"; do
    getent group "$group" >/dev/null || continue
    if id -nG "$name" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
      unchanged "user $name in group $group"
    else
      apply "add user $name to group $group" run usermod -aG "$group" "$name"
    fi
  done
}

# --- files -----------------------------------------------------------------------------------------

# step_dir PATH MODE [OWNER]: a directory (owned by OWNER:OWNER when that user exists).
step_dir() {
  local path=$1 mode=$2 owner=${3:-root} where
  where=$(at "$path")
  local args=(-d -m "$mode")
  if user_in_plan "$owner"; then args+=(-o "$owner" -g "$owner"); fi
  if [ -d "$where" ] && [ "$(stat -c %a "$where")" = "${mode#0}" ] &&
    { ! user_exists "$owner" || [ "$(stat -c %U "$where")" = "$owner" ]; }; then
    unchanged "directory $path"
  else
    apply "directory $path (mode $mode, owner $owner)" run install "${args[@]}" "$where"
  fi
}

# step_managed SOURCE PATH MODE: a file this project owns; replaced whenever it differs.
step_managed() {
  local source=$1 path=$2 mode=$3 where
  where=$(at "$path")
  if [ -f "$where" ] && cmp -s "$source" "$where" && [ "$(stat -c %a "$where")" = "${mode#0}" ]; then
    unchanged "$path"
    return
  fi
  case $path in *.service) UNITS_CHANGED=1 ;; esac
  apply "$path" run install -D -m "$mode" "$source" "$where"
}

# step_config PATH MODE GROUP CONTENT: the operator's file; written only when there is none, never replaced.
step_config() {
  local path=$1 mode=$2 group=$3 content=$4 where
  where=$(at "$path")
  if [ -e "$where" ]; then
    unchanged "$path (the operator's file: kept as it is)"
  else
    apply "$path (new)" write_file "$where" "$mode" "$group" "$content"
  fi
}

write_file() {
  local where=$1 mode=$2 group=$3 content=$4
  if [ "$DRY_RUN" = 1 ]; then
    printf '          $ install -D -m %s /dev/stdin %s <<EOF\n' "$mode" "$(quoted "$where")"
    printf '%s\n' "$content" | sed 's/^/          | /'
    return
  fi
  mkdir -p "$(dirname "$where")"
  printf '%s\n' "$content" >"$where.new"
  chmod "$mode" "$where.new"
  if on_host && getent group "$group" >/dev/null; then chgrp "$group" "$where.new"; fi
  mv -f "$where.new" "$where"
}

# relink TARGET LINK: point the symbolic link LINK at TARGET in one rename (never a moment without it).
relink() {
  run ln -sfn "$1" "$2.new"
  run mv -fT "$2.new" "$2"
}

# --- units -----------------------------------------------------------------------------------------

step_units() {
  local unit
  for unit in "$@"; do
    step_managed "$SOURCE_UNITS/$unit" "/etc/systemd/system/$unit" 0644
  done
  if [ "$UNITS_CHANGED" = 1 ] && systemd_running; then
    apply "systemd reloaded the changed units" run systemctl daemon-reload
  fi
  for unit in "$@"; do step_enable "$unit"; done
}

step_enable() {
  local unit=$1 state
  local systemctl=(systemctl)
  on_host || systemctl+=("--root=$ROOT")
  state=$("${systemctl[@]}" is-enabled "$unit" 2>/dev/null || true)
  if [ "$state" = enabled ]; then
    unchanged "$unit enabled"
  else
    apply "enable $unit (starts at boot)" run "${systemctl[@]}" --quiet enable "$unit"
  fi
}

# step_running UNIT…: started, or restarted when its release or its unit file changed.
step_running() {
  local unit
  for unit in "$@"; do
    if ! systemd_running; then
      skipped "start $unit: systemd is not running here (it starts at the next boot)"
    elif [ "$RELEASE_CHANGED" = 1 ] || [ "$UNITS_CHANGED" = 1 ]; then
      apply "restart $unit" run systemctl restart "$unit"
    elif systemctl is-active --quiet "$unit"; then
      unchanged "$unit running"
    else
      apply "start $unit" run systemctl start "$unit"
    fi
  done
}

# --- releases --------------------------------------------------------------------------------------

# release_id: <version>-<first 12 hex of the sha256 of what the release is built from>.
release_id() {
  local version digest
  if [ -n "$WHEEL" ]; then
    version=$(basename "$WHEEL" | cut -d- -f2)
    digest=$(sha256sum "$WHEEL")
  else
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SOURCE/pyproject.toml")
    digest=$(cd "$SOURCE" && find "${SOURCE_PARTS[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
      ! -name '*.mo' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum)
  fi
  [ -n "$version" ] || die "cannot tell the version of the release"
  printf '%s-%s' "$version" "${digest:0:12}"
}

# step_release BEFORE_SWITCH: build this source's release unless built, then make it the active one.
# BEFORE_SWITCH (a function) runs with the outgoing release's directory before the switch.
step_release() {
  local id releases built
  id=$(release_id)
  releases=$(at "$PREFIX/releases")
  built=$releases/$id
  if [ -f "$built/.classcast-release" ]; then
    unchanged "release $id built"
  else
    apply "build release $id in $PREFIX/releases/$id" build_release "$built"
  fi
  local current
  current=$(readlink "$(at "$PREFIX/venv")" 2>/dev/null || true)
  if [ "$current" = "releases/$id" ]; then
    unchanged "release $id active"
  else
    if [ -n "$current" ]; then "$1" "$(at "$PREFIX/$current")"; fi
    RELEASE_CHANGED=1
    local was=${current#releases/}
    apply "activate release $id (was: ${was:-none})" activate "releases/$id" "$current"
  fi
  step_prune
}

nothing_before_switch() { :; }

build_release() {
  local built=$1 staging
  staging=${TMPDIR:-/tmp}/classcast-build.$$
  if [ -d "$built" ]; then run rm -rf "$built"; fi # a build that did not finish
  run mkdir -p "$(dirname "$built")"
  run "$PYTHON" -m venv "$built"
  if [ -n "$WHEEL" ]; then
    run "$built/bin/pip" install --quiet --disable-pip-version-check "$WHEEL"
  else
    # pip builds inside the tree it is given: a copy keeps the source tree (a working copy) untouched.
    run mkdir -p "$staging"
    run cp -r "${SOURCE_PARTS[@]/#/$SOURCE/}" "$staging/"
    # The staff pages' browser libraries (Chart.js), pinned, from the npm registry: never in the tree.
    run "$PYTHON" "$SOURCE/scripts/browser-libs" "$staging/controller/static/vendor"
    run "$built/bin/pip" install --quiet --disable-pip-version-check "$staging"
    run rm -rf "$staging"
  fi
  # The UI's English catalogue ships as .po; the compiled .mo is build output, made here.
  run "$built/bin/python" -c "$COMPILE_TRANSLATIONS" "$built/bin/pybabel"
  if [ "$DRY_RUN" = 1 ]; then
    run touch "$built/.classcast-release"
  else
    date -u +%Y-%m-%dT%H:%M:%SZ >"$built/.classcast-release" # last: only a whole build carries it
  fi
}

COMPILE_TRANSLATIONS='import pathlib, subprocess, sys, controller
folder = pathlib.Path(controller.__file__).parent / "translations"
sys.exit(subprocess.call([sys.argv[1], "-q", "compile", "-d", str(folder)]))'

activate() {
  local new=$1 current=$2
  if [ -n "$current" ]; then relink "$current" "$(at "$PREFIX/previous")"; fi
  relink "$new" "$(at "$PREFIX/venv")"
}

# step_prune: keep the active and the previous release; remove the others.
step_prune() {
  local releases keep=() release
  releases=$(at "$PREFIX/releases")
  [ -d "$releases" ] || return 0
  keep+=("$(readlink "$(at "$PREFIX/venv")" 2>/dev/null || true)")
  keep+=("$(readlink "$(at "$PREFIX/previous")" 2>/dev/null || true)")
  for release in "$releases"/*; do
    [ -d "$release" ] || continue
    case " ${keep[*]} " in *" releases/$(basename "$release") "*) continue ;; esac
    apply "remove old release $(basename "$release")" run rm -rf "$release"
  done
}

# rollback UNIT…: the previous release becomes the active one (and the active one the previous).
rollback() {
  local current previous
  current=$(readlink "$(at "$PREFIX/venv")" 2>/dev/null || true)
  previous=$(readlink "$(at "$PREFIX/previous")" 2>/dev/null || true)
  if [ -z "$previous" ] || [ ! -d "$(at "$PREFIX/$previous")" ]; then
    die "there is no previous release to roll back to"
  fi
  RELEASE_CHANGED=1
  apply "roll back to release ${previous#releases/} (from ${current#releases/})" activate "$previous" "$current"
  step_running "$@"
}

finish() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "dry run: nothing was changed"
  elif [ "$CHANGES" -eq 0 ]; then
    echo "nothing to change: the installation is as this source makes it"
  else
    echo "$CHANGES changes made"
  fi
}
