"""shipdeck's own pm2 ecosystem file, kept in the app root, through which pm2 runs the app.

pm2 stores each app's cwd and script path when it starts it, and a reload reuses them. An
ecosystem file loaded as `<root>/current/ecosystem.config.js` is resolved by node's require()
to the real release directory, so an app without `cwd` (most) or with paths built from
__dirname stays pinned to the release it was first started from: after `current` is switched,
`pm2 reload` serves the old code. The wrapper loads the release's file and points every app's
cwd (and any path inside the release) at `<root>/current`, the link: pm2 stores the link and the
kernel resolves it at each spawn, so a reload serves whatever `current` points at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

WRAPPER_NAME = ".shipdeck-ecosystem.config.js"
#: The env variable the wrapper gives every app it starts: the shipdeck app's name.
TAG_VAR = "SHIPDECK_APP"

_WRAPPER = """'use strict';
// Written by shipdeck; rewritten at every DEPLOY and ROLLBACK. pm2 runs the apps of the live
// release's ecosystem file through this one, with every cwd and path pointing at the `current`
// link, so that `pm2 reload` serves the release `current` points at.
const fs = require('fs');
const path = require('path');
const CURRENT = __CURRENT__;
const SOURCE = path.resolve(CURRENT, __ECOSYSTEM__);
const ONLY = __ONLY__;
const TAG = __TAG__;
const TAG_VAR = __TAG_VAR__;
const real = fs.realpathSync(CURRENT);

function relink(p) {
  if (typeof p !== 'string' || !path.isAbsolute(p)) return p;
  if (p === real) return CURRENT;
  if (p.startsWith(real + path.sep)) return path.join(CURRENT, p.slice(real.length + 1));
  return p;
}

delete require.cache[require.resolve(SOURCE)];
let loaded = require(SOURCE);
if (loaded && loaded.default) loaded = loaded.default;
const list = Array.isArray(loaded) ? loaded : (loaded && loaded.apps) || [];
const apps = list
  .filter((app) => app && (ONLY.length === 0 || ONLY.includes(app.name)))
  .map((app) => {
    const out = Object.assign({}, app);
    out.cwd = out.cwd ? relink(path.resolve(real, out.cwd)) : CURRENT;
    for (const key of ['script', 'out_file', 'error_file', 'log_file', 'pid_file']) {
      if (out[key]) out[key] = relink(out[key]);
    }
    // Marks the process as this shipdeck app's (pm2 jlist shows it): its checks find it by that.
    if (TAG) out.env = Object.assign({}, out.env, { [TAG_VAR]: TAG });
    return out;
  });
module.exports = { apps };
"""

# Prints the app names of an ecosystem file, one JSON array on stdout (node on the host).
NAMES_SCRIPT = """
const path = require('path');
let loaded = require(path.resolve(process.argv[1]));
if (loaded && loaded.default) loaded = loaded.default;
const list = Array.isArray(loaded) ? loaded : (loaded && loaded.apps) || [];
process.stdout.write(JSON.stringify(list.map((a) => (a && a.name) || '').filter(Boolean)));
"""


def wrapper_source(
    current: str, ecosystem: str, only: Sequence[str] = (), tag: str = ""
) -> str:
    """The wrapper for the app whose live release is the link ``current``; ``ecosystem`` is the
    release's file (relative to the release, or absolute); ``only`` narrows the apps; ``tag``
    (the shipdeck app's name) goes into every app's env as ``TAG_VAR``."""
    return (
        _WRAPPER.replace("__CURRENT__", json.dumps(current))
        .replace("__ECOSYSTEM__", json.dumps(ecosystem))
        .replace("__ONLY__", json.dumps(list(only)))
        .replace("__TAG_VAR__", json.dumps(TAG_VAR))
        .replace("__TAG__", json.dumps(tag))
    )


def names_argv(node: str, ecosystem_path: str) -> list[str]:
    """A command printing the app names of ``ecosystem_path`` as a JSON array."""
    return [node, "-e", NAMES_SCRIPT, ecosystem_path]


def parse_names(stdout: str) -> list[str]:
    """The names printed by ``names_argv``; ValueError when the output is not that."""
    names = json.loads(stdout.strip().splitlines()[-1] if stdout.strip() else "")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("not a list of app names")
    return names
