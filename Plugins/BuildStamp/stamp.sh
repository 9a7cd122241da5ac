#!/bin/sh
# Writes BuildStamp.swift, the git revision a build is made from. The BuildStamp plugin
# (plugin.swift, beside this file) runs it at every build of the target it is attached to.
#   stamp.sh PACKAGE_DIR OUTPUT_FILE TICK_FILE
#
# revision: `git rev-parse HEAD` of the repository holding PACKAGE_DIR, when that repository
#   tracks PACKAGE_DIR/Package.swift. Otherwise (no git, no .git as in a container build from a
#   source tarball, a tarball unpacked inside another repository) GIT_REVISION from the build's
#   environment, else "unknown".
# dirty: whether `git status` lists a tracked file that differs from that commit (untracked
#   files do not count); without git, GIT_DIRTY=true (or 1) from the build's environment.
# OUTPUT_FILE is replaced only when its content changes, so an unchanged stamp recompiles nothing.
# TICK_FILE is an input of the plugin's build command: replacing it makes llbuild run this
# script again at the next build (see plugin.swift).
set -u
package=$1 output=$2 tick=$3

# First, so that the next build runs this again whatever happens below.
: >"$tick.new" && mv -f "$tick.new" "$tick"

revision="" dirty=false
if git -C "$package" rev-parse --git-dir >/dev/null 2>&1; then
  if git -C "$package" ls-files --error-unmatch Package.swift >/dev/null 2>&1; then
    revision=$(git -C "$package" rev-parse --verify -q HEAD 2>/dev/null) || revision=""
  fi
  if [ -n "$revision" ]; then
    # --no-optional-locks: never write the index (a concurrent `git commit` holds its lock).
    if ! changes=$(git -C "$package" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null); then
      changes="unknown"
    fi
    [ -z "$changes" ] || dirty=true
  fi
elif [ -e "$package/.git" ]; then
  echo "warning: BuildStamp: git cannot read $package (is git installed, is the folder a safe.directory?); using GIT_REVISION or 'unknown'" >&2
fi
if [ -z "$revision" ]; then
  revision=${GIT_REVISION:-unknown}
  case ${GIT_DIRTY:-} in true | 1) dirty=true ;; esac
fi
# Only characters that need no escaping in a Swift string literal.
revision=$(printf '%s' "$revision" | tr -cd 'A-Za-z0-9._+-')
[ -n "$revision" ] || revision=unknown

mkdir -p "$(dirname "$output")"
next="$output.$$.tmp"
cat >"$next" <<SWIFT
// Generated at build time by Plugins/BuildStamp/stamp.sh; do not edit.

/// The git revision this module was built from, stamped by the BuildStamp plugin.
enum BuildStamp {
    /// \`git rev-parse HEAD\` at build time, else \`GIT_REVISION\` at build time, else \`unknown\`.
    static let revision = "$revision"
    /// Whether tracked files differed from that commit when it was built (\`git status\`).
    static let dirty = $dirty
}
SWIFT
if cmp -s "$next" "$output"; then
  rm -f "$next"
else
  mv -f "$next" "$output"
fi
