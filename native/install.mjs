// The package's `install` script: builds the optional native addon (native/shm.c, see
// binding.gyp) with node-gyp. It never fails the install: without the addon the read cache
// validates with `PRAGMA data_version` instead (correct, slower hot reads).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lost =
  'node-diskcache: the optional native addon did not build, so hot cached reads use the slower ' +
  'PRAGMA data_version check (everything else works);';

if (process.platform === 'win32') {
  console.warn(`${lost} it is not supported on Windows.`);
  process.exit(0);
}
// npm runs install scripts with its own node-gyp in npm_config_node_gyp (and on PATH); run by
// hand, the node-gyp bundled with the npm next to this node.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const bundled = path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined);
const [command, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
// The headers of the running Node when it has them (a system or official install): no download.
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h')))
  args.push(`--nodedir=${prefix}`);
const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
if (result.status !== 0) {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status}`;
  console.warn(
    `${lost} ${why}. To fix: install a C compiler, make and python3, then run \`npm rebuild node-diskcache\`` +
      (process.env.DISKCACHE_NATIVE_VERBOSE
        ? `\n${result.stdout}${result.stderr}`
        : ' (DISKCACHE_NATIVE_VERBOSE=1 shows the build output).'),
  );
}
