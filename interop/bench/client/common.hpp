// Shared helpers for the Convoy benchmark clients (Qpid Proton C++).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <time.h>

namespace bench {

// Wall-clock microseconds (CLOCK_REALTIME): sender and receiver run on one machine,
// so the sender's timestamp and the receiver's clock are directly comparable.
inline int64_t now_us() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// --key value / --flag parser. Flags listed in `flags` take no value.
struct Args {
    std::map<std::string, std::string> kv;
    Args(int argc, char** argv, const char* flags) {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            if (a.rfind("--", 0) != 0) { fprintf(stderr, "unexpected argument: %s\n", argv[i]); exit(2); }
            a = a.substr(2);
            size_t eq = a.find('=');
            if (eq != std::string::npos) { kv[a.substr(0, eq)] = a.substr(eq + 1); continue; }
            std::string probe = "," + a + ",";
            if (std::string(",") .append(flags).append(",").find(probe) != std::string::npos) { kv[a] = "1"; continue; }
            if (i + 1 >= argc) { fprintf(stderr, "missing value for --%s\n", a.c_str()); exit(2); }
            kv[a] = argv[++i];
        }
    }
    std::string str(const char* k, const std::string& d) const { auto it = kv.find(k); return it == kv.end() ? d : it->second; }
    long long num(const char* k, long long d) const { auto it = kv.find(k); return it == kv.end() ? d : atoll(it->second.c_str()); }
    bool has(const char* k) const { return kv.count(k) != 0; }
};

inline std::string json_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += c; }
        else if ((unsigned char)c < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); o += b; }
        else o += c;
    }
    return o;
}

inline void event(const char* name, const std::string& extra = "") {
    printf("{\"event\":\"%s\",\"t_us\":%lld%s%s}\n", name, (long long)now_us(), extra.empty() ? "" : ",", extra.c_str());
    fflush(stdout);
}

} // namespace bench
