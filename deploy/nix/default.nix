# deploy/nix/default.nix: nix-build deploy/nix   (needs a nixpkgs channel)
{ pkgs ? import <nixpkgs> { } }:
pkgs.callPackage ./package.nix { }
