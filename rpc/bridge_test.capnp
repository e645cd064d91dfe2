@0xa461d96cd63621db;
# Tiny schema for rpc/bridge_test.cc only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("braid::rpc::test");

interface Echo {
  echo @0 (text :Text) -> (text :Text);
  # Returns `text` unchanged.

  slow @1 (ms :UInt32) -> ();
  # Returns after `ms` milliseconds, timed by an Asio timer on the server.
}
