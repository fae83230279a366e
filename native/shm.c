/*
 * diskcache_shm: maps the first page of a SQLite WAL-index file (`cache.db-shm`) read-only, so the
 * read cache (src/cache/read-cache.ts) can compare its header with a few array reads instead of a
 * `PRAGMA data_version` statement. See src/cache/shm.ts for how and when it is used.
 *
 * mapHeader(fd) -> { buffer, handle }: `buffer` is an external ArrayBuffer over
 * mmap(4096, PROT_READ, MAP_SHARED) of `fd` at offset 0; `handle` identifies the mapping for
 * unmapHeader(handle, buffer), which detaches the buffer (its views then read nothing) and unmaps
 * at once (a mapping keeps its file system busy: a tmpfs could not be unmounted). Otherwise the
 * mapping goes when the buffer is collected. The fd is the caller's: this never closes it
 * (closing an fd on `-shm` would drop SQLite's POSIX locks).
 */
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAPPED_BYTES 4096

/* One mapping, shared by the buffer and the handle (freed when both are collected). */
typedef struct {
  void *address;
  int live;
  int references;
} mapping;

static void drop_reference(mapping *m) {
  if (--m->references == 0) free(m);
}

static void buffer_collected(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = hint;
  if (m->live) {
    munmap(m->address, MAPPED_BYTES);
    m->live = 0;
  }
  drop_reference(m);
}

static void handle_collected(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  drop_reference(data);
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
  mapping *m = malloc(sizeof *m);
  if (m == NULL) {
    napi_throw_error(env, NULL, "mapHeader: out of memory");
    return NULL;
  }
  m->address = mmap(NULL, MAPPED_BYTES, PROT_READ, MAP_SHARED, fd, 0);
  if (m->address == MAP_FAILED) {
    char message[160];
    snprintf(message, sizeof message, "mapHeader: mmap of fd %d failed: %s", fd, strerror(errno));
    free(m);
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  m->live = 1;
  m->references = 0;
  napi_value buffer, handle, result;
  if (napi_create_external_arraybuffer(env, m->address, MAPPED_BYTES, buffer_collected, m,
                                       &buffer) != napi_ok) {
    munmap(m->address, MAPPED_BYTES);
    free(m);
    napi_throw_error(env, NULL, "mapHeader: external ArrayBuffers are not supported here");
    return NULL;
  }
  m->references++;
  if (napi_create_external(env, m, handle_collected, NULL, &handle) != napi_ok) return NULL;
  m->references++;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_set_named_property(env, result, "buffer", buffer) != napi_ok ||
      napi_set_named_property(env, result, "handle", handle) != napi_ok)
    return NULL;
  return result;
}

static napi_value unmap_header(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  mapping *m = NULL;
  void *data = NULL;
  bool is_buffer = false;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&m) != napi_ok || m == NULL ||
      napi_is_arraybuffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "unmapHeader(handle, buffer): what mapHeader returned");
    return NULL;
  }
  if (!m->live) return NULL;
  if (napi_get_arraybuffer_info(env, argv[1], &data, NULL) != napi_ok || data != m->address) {
    napi_throw_type_error(env, NULL, "unmapHeader: the buffer is not this mapping's");
    return NULL;
  }
  if (napi_detach_arraybuffer(env, argv[1]) != napi_ok) {
    napi_throw_error(env, NULL, "unmapHeader: the buffer cannot be detached");
    return NULL;
  }
  munmap(m->address, MAPPED_BYTES);
  m->live = 0;
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "mapHeader", NAPI_AUTO_LENGTH, map_header, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "mapHeader", fn) != napi_ok)
    return NULL;
  if (napi_create_function(env, "unmapHeader", NAPI_AUTO_LENGTH, unmap_header, NULL, &fn) !=
          napi_ok ||
      napi_set_named_property(env, exports, "unmapHeader", fn) != napi_ok)
    return NULL;
  return exports;
}
