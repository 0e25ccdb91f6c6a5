# deploy/nix/package.nix: stagger built with nixpkgs' meson; call it with
# pkgs.callPackage (default.nix does). Debian's build is deploy/debian/.
{ lib, stdenv, meson, ninja, pkg-config, libsodium, zeromq, jansson, libuv, libmicrohttpd, python3 }:

stdenv.mkDerivation {
  pname = "stagger";
  version = "0.1.0";

  # The source tree without build directories or VCS metadata.
  src = lib.cleanSourceWith {
    src = ../..;
    filter = path: type: !(type == "directory" && baseNameOf path == "build");
  };

  nativeBuildInputs = [ meson ninja pkg-config ];
  # python3: the cardano-node hooks' interpreter; fixupPhase rewrites their
  # #!/usr/bin/python3 to it.
  buildInputs = [ libsodium zeromq jansson libuv libmicrohttpd python3 ];

  # nixpkgs' shared libraries (the static archives the upstream default
  # links are not in nixpkgs' default outputs).
  mesonFlags = [ "-Dstatic_deps=false" ];

  # The fast suites; the fleet and simulator suites want a whole machine.
  doCheck = true;
  checkPhase = ''
    runHook preCheck
    meson test --suite unit --suite cli --print-errorlogs
    runHook postCheck
  '';

  meta = with lib; {
    description = "Peer-coordinated staggered updates for a fleet of servers";
    license = licenses.asl20;
    platforms = platforms.linux;
    mainProgram = "staggerd";
  };
}
