/*
 * diskcache_shm: maps the first page of a SQLite WAL-index file (`cache.db-shm`) read-only, so the
 * read cache (src/cache/read-cache.ts) can compare its header with a few array reads instead of a
 * `PRAGMA data_version` statement. See src/cache/shm.ts for how and when it is used.
 *
 * mapHeader(fd) -> ArrayBuffer: an external ArrayBuffer over mmap(4096, PROT_READ, MAP_SHARED) of
 * `fd` at offset 0. The mapping is undone when the ArrayBuffer is collected. The fd is the
 * caller's: this never closes it (closing an fd on `-shm` would drop SQLite's POSIX locks).
 */
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define MAPPED_BYTES 4096

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  munmap(data, MAPPED_BYTES);
}

static napi_value map_header(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_valuetype type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_number || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "mapHeader(fd): fd must be an open file descriptor");
    return NULL;
  }
  void *data = mmap(NULL, MAPPED_BYTES, PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    char message[160];
    snprintf(message, sizeof message, "mapHeader: mmap of fd %d failed: %s", fd, strerror(errno));
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, data, MAPPED_BYTES, unmap, NULL, &buffer) != napi_ok) {
    munmap(data, MAPPED_BYTES);
    napi_throw_error(env, NULL, "mapHeader: external ArrayBuffers are not supported here");
    return NULL;
  }
  return buffer;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "mapHeader", NAPI_AUTO_LENGTH, map_header, NULL, &fn) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "mapHeader", fn) != napi_ok) return NULL;
  return exports;
}
