/*
 * ProcessPrng for wine 8 (Debian bookworm's), which lacks bcryptprimitives.dll. Rust's std
 * for Windows (1.78 and later) takes its random bytes from ProcessPrng, which Windows 10
 * and later have, so no Rust program starts under that wine without it. This stands in
 * for it in the check's own wine prefix only, on RtlGenRandom (advapi32's
 * SystemFunction036), which wine has. Built by .ci/wine-e2e with Debian's mingw-w64.
 */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
