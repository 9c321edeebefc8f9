// The addon's one TUN opener: openTun (the JS engine's TUN, tun.cc) and Core::OpenTun (the fast path's,
// with offloads) both open the device here.
#pragma once

#include <string>

// Opens /dev/net/tun as device `name`: IFF_TUN | IFF_NO_PI, nonblocking, close-on-exec. With vnetHdrLen > 0
// also IFF_VNET_HDR with a header of that size, and the TUN_F_* `offloads`. Returns the fd and sets
// *actualName, or returns -1 with *err set (nothing left open).
int OpenTunDevice(const std::string& name, int vnetHdrLen, unsigned offloads, std::string* actualName,
                  std::string* err);
