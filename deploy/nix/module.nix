# deploy/nix/module.nix: a NixOS module for staggerd, with the hardening of
# deploy/systemd/staggerd.service (tests/deploy/test_nix.sh checks that every
# setting of that unit's [Service] section is here too).
#
#   imports = [ ./stagger/deploy/nix/module.nix ];
#   services.staggerd = {
#     enable = true;
#     settings = {
#       key = "/var/lib/stagger-keys/relay1.key";
#       roster = "/etc/stagger/roster.signed";
#       listen = "tcp://0.0.0.0:7400";
#     };
#   };
{ config, lib, pkgs, ... }:

let
  cfg = config.services.staggerd;
  hooks = "${cfg.package}/libexec/stagger/hooks/cardano-node";
  configFile = pkgs.writeText "staggerd.json" (builtins.toJSON cfg.settings);
in
{
  options.services.staggerd = {
    enable = lib.mkEnableOption "the stagger peer daemon (staggered cardano-node updates)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { };
      description = "The stagger package.";
    };

    user = lib.mkOption {
      type = lib.types.str;
      default = "cardano";
      description = "The user that runs cardano-node; the hooks act as it.";
    };

    group = lib.mkOption {
      type = lib.types.str;
      default = "cardano";
      description = "Its group.";
    };

    readWritePaths = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ "/opt/cardano-node" "/var/lib/cardano-node" ];
      description = "What the hooks change (the node's versions and database).";
    };

    settings = lib.mkOption {
      type = lib.types.attrsOf lib.types.anything;
      default = { };
      description = ''
        staggerd's configuration (docs/operations.md section 2), written as
        JSON. state_dir, component and the cardano-node hooks have defaults;
        key and roster must be given.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    services.staggerd.settings = {
      state_dir = lib.mkDefault "/var/lib/stagger";
      component = lib.mkDefault "cardano-node";
      log_level = lib.mkDefault "info";
      hooks = lib.mkDefault {
        health = "${hooks}/health";
        install = "${hooks}/install";
        rollback = "${hooks}/rollback";
        gate = "${hooks}/gate";
      };
    };

    environment.systemPackages = [ cfg.package ];

    systemd.services.staggerd = {
      description = "stagger peer: staggered cardano-node updates for this fleet";
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      wantedBy = [ "multi-user.target" ];
      # The hooks call systemctl, curl, tar and (for images) podman.
      path = [ pkgs.systemd pkgs.curl pkgs.gnutar pkgs.coreutils pkgs.python3 ];
      reload = "kill -HUP $MAINPID";
      serviceConfig = {
        Type = "exec";
        User = cfg.user;
        Group = cfg.group;
        ExecStartPre = "${cfg.package}/bin/staggerd --config ${configFile} --check-config";
        ExecStart = "${cfg.package}/bin/staggerd --config ${configFile}";
        KillSignal = "SIGTERM";
        TimeoutStopSec = 30;
        Restart = "on-failure";
        RestartSec = 5;
        StateDirectory = "stagger";
        StateDirectoryMode = "0700";
        UMask = "0077";
        LimitCORE = 0;

        NoNewPrivileges = true;
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
        ProtectSystem = "strict";
        ReadWritePaths = cfg.readWritePaths;
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        RestrictSUIDSGID = true;
        RestrictRealtime = true;
        RestrictNamespaces = true;
        LockPersonality = true;
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" ];
      };
    };
  };
}
