#!/bin/sh
# install.sh [TARGET]              install (or upgrade) lifeguard into TARGET/.claude (default: .)
# install.sh --uninstall [TARGET]  remove exactly lifeguard's hooks and files; its data is kept
# install.sh --guard-existing [--guard-timeout S] [TARGET]
#                                  also wrap your own hook commands in .claude/hooks/guard.py
# install.sh --help                all options
#
# Needs uv (https://docs.astral.sh/uv/). When uv is missing this script installs it with
# pip for the current user and says so; where that fails it says how to get it.
set -u
here=$(cd "$(dirname "$0")" && pwd)

find_uv() {
  uv=$(command -v uv 2>/dev/null)
  for candidate in "$HOME/.local/bin/uv" "$HOME/.cargo/bin/uv"; do
    [ -n "$uv" ] && break
    [ -x "$candidate" ] && uv=$candidate
  done
}

find_uv
if [ -z "$uv" ]; then
  echo "lifeguard: uv is not installed; installing it for this user with: python3 -m pip install --user uv"
  if python3 -m pip install --user --quiet uv 2>/dev/null \
    || python3 -m pip install --user --quiet --break-system-packages uv 2>/dev/null; then
    find_uv
  fi
  if [ -z "$uv" ]; then
    echo "lifeguard: could not install uv. Get it with one of:" >&2
    echo "  pipx install uv" >&2
    echo "  curl -LsSf https://astral.sh/uv/install.sh | sh" >&2
    echo "then run this script again." >&2
    exit 1
  fi
  echo "lifeguard: installed uv at $uv"
fi
case " $* " in
  *" --uninstall "* | *" --help "* | *" -h "*) ;;
  *) if [ "$(command -v uv 2>/dev/null)" != "$uv" ]; then
       # lifeguard's hooks and .claude/lifeguard find it where it is; a shell needs it on PATH
       echo "lifeguard: uv is at $uv, which is not on your PATH. To run it by name, add its folder:"
       echo "  export PATH=\"${uv%/*}:\$PATH\"   (put this line in ~/.profile or your shell's rc file)"
     fi ;;
esac

# The installer is Python (3.11+); uv finds or fetches a suitable interpreter.
PYTHONPATH="$here/lib" exec "$uv" run -q --no-project --python ">=3.11" -- python -m lifeguard.commands.install "$@"
