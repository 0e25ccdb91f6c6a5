#!/usr/bin/env bash
# purity.sh: prove the pure libraries (the core and the codecs) reference no
# clock, randomness, I/O, libuv, ZeroMQ or system call. Every undefined
# symbol of the archive must be defined inside it or be on the allowlist
# below: the functions the core and the codecs call today, no more
# (exactly the jansson functions they use, building, reading and encoding
# JSON in memory: never json_load_file, json_dump_file or json_loadf), and
# what compilers insert. Anything else fails, so a new dependency has to be
# argued for here, in review. Key files are read by node/common, not here.
set -euo pipefail
status=0
# What the code calls: exactly this (memory, strings, formatting into
# buffers, sorting; jansson in memory; libsodium's deterministic primitives).
calls='mem(cpy|set|cmp|move|chr)|str(len|cmp|ncmp|casecmp|chr|rchr|spn|str|cpy|error)|inet_pton|v?snprintf|(m|c)alloc|free|qsort|__assert_fail'
calls+='|json_(array(_append_new|_get|_size)?|delete|dumpb|dumps|false|true|null|integer(_value)?|loadb|object(_get|_iter(_key|_next|_value)?|_key_to_iter|_set_new|_size)?|pack|string(_length|_value)?)'
calls+='|crypto_(sign_(detached|verify_detached|seed_keypair|ed25519_pk_to_curve25519|ed25519_sk_to_curve25519)|generichash(_init|_update|_final)?|core_ed25519_is_valid_point)'
calls+='|sodium_(bin2base64|base642bin|base64_encoded_len|bin2hex|hex2bin)'
# What compilers insert in other builds: fortified copies, the stack
# protector, sanitizers and coverage (build/asan, build/fuzz), PIC.
inserted='__(v)?snprintf_chk|__(memcpy|memset|memmove|strcpy)_chk|__stack_chk_fail|__(asan|ubsan|sanitizer|sancov|lsan)_[A-Za-z0-9_]+|__sancov_lowest_stack|_GLOBAL_OFFSET_TABLE_'
allowed="^($calls|$inserted)\$"
# The libraries are checked as one unit: the core may call the codecs.
defined=$(for lib in "$@"; do nm --defined-only -g "$lib" 2>/dev/null; done |
          awk 'NF==3 {print $3}' | sort -u)
for lib in "$@"; do
  undefined=$(nm -u "$lib" 2>/dev/null | awk 'NF {print $NF}' | grep -v ':$' | sort -u)
  bad=$(comm -23 <(echo "$undefined") <(echo "$defined") | grep -Ev "$allowed" | grep . || true)
  name=$(basename "$lib")
  if [ -n "$bad" ]; then
    echo "not ok - $name references symbols outside the pure allowlist:"
    echo "$bad" | sed 's/^/#   /'
    status=1
  else
    echo "ok - $name is pure ($(echo "$undefined" | wc -l) undefined symbols, all allowed)"
  fi
done
echo "1..$#"
exit $status
