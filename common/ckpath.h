/* ckpath.h — the path rules of a checkpoint: which relative paths may be
 * saved and restored, and which are DRM keys.
 *
 * Promises:
 *  - rp_ckpt_safe_path is the one test a path passes before save stores it
 *    or restore writes it: relative, not empty, at most 4000 bytes, no
 *    leading or trailing '/', no empty, "." or ".." component, no control
 *    character (< 0x20, 0x7f), and no ".rp-part-" (restore's temporary
 *    files), so nothing outside the directory is ever named.
 *  - rp_ckpt_is_key_path: a file under a keys/ directory (at any depth) or
 *    named *.key is a DRM key: it is sealed (ckseal.h), never sent in clear.
 *  - Pure functions: no I/O, no allocation.
 */
#ifndef RP_CKPATH_H
#define RP_CKPATH_H

int rp_ckpt_safe_path(const char *rel);
int rp_ckpt_is_key_path(const char *rel);

#endif
