'use strict';
// The demo app's database migrations, without dependencies: psql does the talking.
//
//   node scripts/migrate.js up      apply every migrations/NNN_name.up.sql not applied yet
//   node scripts/migrate.js down    revert the latest applied one (its NNN_name.down.sql)
//   node scripts/migrate.js status  one line per migration: "applied" or "pending"
//
// Each migration runs in one transaction together with its row in schema_migrations, so a
// failed one leaves nothing half done. The connection is psql's own: DATABASE_URL if set, else
// the PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE, PGSERVICE). With none of
// them set the database is not configured: this says so and exits 2 rather than skip the
// migrations silently (shipdeck runs `npm run migrate` only when [steps.build] migrate says so).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const DIR = path.join(__dirname, '..', 'migrations');
const NAME = /^(\d{3,}_[a-z0-9_]+)\.up\.sql$/;
const TABLE = 'schema_migrations';

function fail(message, code = 1) {
  process.stderr.write(`migrate: ${message}\n`);
  process.exit(code);
}

function configured() {
  return ['DATABASE_URL', 'PGDATABASE', 'PGHOST', 'PGSERVICE'].some((k) => process.env[k]);
}

// psql with the given arguments; its stdout, or exit with its last error line.
function psql(args) {
  const base = ['-X', '-q', '-A', '-t', '-w', '-v', 'ON_ERROR_STOP=1'];
  if (process.env.DATABASE_URL) base.push('-d', process.env.DATABASE_URL);
  const res = spawnSync('psql', [...base, ...args], { encoding: 'utf8' });
  if (res.error) fail(res.error.code === 'ENOENT' ? 'psql not found on PATH' : res.error.message);
  if (res.status !== 0) {
    const last = (res.stderr || res.stdout || '').trim().split('\n').pop();
    fail(last || `psql exited ${res.status}`);
  }
  return res.stdout;
}

function available() {
  return fs.readdirSync(DIR).map((f) => (NAME.exec(f) || [])[1]).filter(Boolean).sort();
}

function applied() {
  const exists = psql(['-c', `SELECT to_regclass('${TABLE}') IS NOT NULL`]).trim();
  if (exists !== 't') return [];
  return psql(['-c', `SELECT version FROM ${TABLE} ORDER BY version`]).split('\n').filter(Boolean);
}

function up() {
  psql(['-c', `CREATE TABLE IF NOT EXISTS ${TABLE} (version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now())`]);
  const done = new Set(applied());
  const todo = available().filter((v) => !done.has(v));
  for (const v of todo) {
    psql(['-1', '-f', path.join(DIR, `${v}.up.sql`),
      '-c', `INSERT INTO ${TABLE} (version) VALUES ('${v}')`]);
    console.log(`migrate: applied ${v}`);
  }
  if (!todo.length) console.log(`migrate: nothing to apply (${done.size} applied)`);
}

function down() {
  const latest = applied().pop();
  if (!latest) {
    console.log('migrate: nothing to revert');
    return;
  }
  const file = path.join(DIR, `${latest}.down.sql`);
  if (!NAME.test(`${latest}.up.sql`) || !fs.existsSync(file)) {
    fail(`no down-migration for ${latest} (${path.relative(process.cwd(), file)})`);
  }
  psql(['-1', '-f', file, '-c', `DELETE FROM ${TABLE} WHERE version = '${latest}'`]);
  console.log(`migrate: reverted ${latest}`);
}

function status() {
  const done = new Set(applied());
  for (const v of available()) console.log(`${v} ${done.has(v) ? 'applied' : 'pending'}`);
}

const commands = { up, down, status };
const command = process.argv[2] || 'up';
if (!commands[command]) fail(`unknown command ${command} (up, down or status)`, 2);
if (!configured()) {
  fail('no database configured: set DATABASE_URL, or PGHOST/PGDATABASE (and PGUSER, PGPORT)', 2);
}
commands[command]();
