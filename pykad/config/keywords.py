"""keepalived 2.2.7's keyword tree: which keywords each section knows, and what they open.

Generated once from docs/reference/keepalived-2.2.7-keywords.tsv (itself read off the
2.2.7 source and checked keyword by keyword against Debian's binary), then kept by hand.
A keyword is plain (its words are its value), ``:block`` (opens a section of keywords
whose path is ``SECTION>KEYWORD``) or ``:values`` (opens a block of raw value lines, as
``virtual_ipaddress``). ``@VERSION`` marks a keyword newer than 2.2.7: pykad reads it,
and reports that keepalived 2.2.7 would not. ``@pykad`` marks pykad's own keywords
(keepalived ignores them as unknown; README, "pykad keywords").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    VALUE = "value"
    BLOCK = "block"
    VALUES = "values"


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    kind: Kind
    since: str | None = None
    """The keepalived version that added it, when newer than 2.2.7."""


def _section(spec: str) -> dict[str, Keyword]:
    table = {}
    for item in spec.split():
        name, _, since = item.partition("@")
        name, _, kind = name.partition(":")
        table[name] = Keyword(name, Kind(kind) if kind else Kind.VALUE, since or None)
    return table


TOP = ""
SECTIONS: dict[str, dict[str, Keyword]] = {
    TOP: _section(
        "linkbeat_use_polling net_namespace net_namespace_ipvs namespace_with_ipsets "
        "use_pid_dir instance child_wait_time global_defs:block track_group:block "
        "static_ipaddress:values static_routes:values static_rules:values "
        "vrrp_sync_group:block garp_group:block linkbeat_interfaces:values "
        "vrrp_instance:block vrrp_script:block vrrp_track_process:block "
        "interface_up_down_delays:values SSL:block virtual_server_group:values "
        "virtual_server:block bfd_instance:block track_file:block vrrp_track_file:block "
    ),
    "global_defs": _section(
        "process_names process_name vrrp_process_name checker_process_name lvs_process_name "
        "bfd_process_name router_id notification_email_from smtp_server smtp_helo_name "
        "smtp_connect_timeout notification_email:values smtp_alert startup_script "
        "startup_script_timeout shutdown_script shutdown_script_timeout max_auto_priority "
        "min_auto_priority_delay smtp_alert_vrrp smtp_alert_checker checker_log_all_failures "
        "dynamic_interfaces no_email_faults default_interface disable_local_igmp lvs_timeouts "
        "lvs_flush lvs_flush_on_stop lvs_flush_onstop lvs_sync_daemon vrrp_mcast_group4 "
        "vrrp_mcast_group6 vrrp_garp_master_delay vrrp_garp_master_repeat "
        "vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay "
        "vrrp_garp_lower_prio_repeat vrrp_down_timer_adverts vrrp_garp_interval "
        "vrrp_gna_interval vrrp_min_garp vrrp_garp_extra_if vrrp_vmac_garp_intvl "
        "vrrp_lower_prio_no_advert vrrp_higher_prio_send_advert vrrp_version vrrp_iptables "
        "vrrp_ipsets nftables nftables_priority nftables_ifindex nftables_ipvs "
        "nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_counters "
        "vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_strict vrrp_priority "
        "vrrp_no_swap vrrp_rt_priority vrrp_cpu_affinity vrrp_rlimit_rttime vrrp_rlimit_rtime "
        "notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script "
        "vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload lvs_notify_fifo "
        "lvs_notify_fifo_script checker_priority checker_no_swap checker_rt_priority "
        "checker_cpu_affinity checker_rlimit_rttime checker_rlimit_rtime bfd_priority "
        "bfd_no_swap bfd_rt_priority bfd_cpu_affinity bfd_rlimit_rttime bfd_rlimit_rtime "
        "snmp_socket enable_traps enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc "
        "enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_checker enable_dbus "
        "dbus_service_name script_user enable_script_security vrrp_netlink_cmd_rcv_bufs "
        "vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs "
        "vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs "
        "process_monitor_rcv_bufs_force lvs_netlink_cmd_rcv_bufs "
        "lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs "
        "lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails "
        "vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier vrrp_startup_delay log_unknown_vrids "
        "vmac_prefix vmac_addr_prefix umask random_seed reload_check_config reload_time_file "
        "reload_repeat reload_file include_check config_save_dir tmp_config_directory "
        "data_use_instance dbus_no_interface_name@2.3.0 iproute_etc_dir@2.3.2 "
        "iproute_usr_dir@2.3.2 json_version@2.2.8 state_dump_file@>2.2.7 "
        "stats_dump_file@>2.2.7 json_dump_file@>2.2.7 set_supplementary_groups@>2.2.7 "
        "use_symlink_paths@2.3.0 snmp_vs_stats_update_interval@2.3.0 "
        "snmp_rs_stats_update_interval@2.3.0 vrrp_delay_after_boot@2.4.0 "
        "vrrp_owner_ignore_adverts@2.3.3 v3_checksum_as_v2@2.2.8 "
        "pykad_metrics_address@pykad "
    ),
    "track_group": _section("group:values "),
    "vrrp_sync_group": _section(
        "group:values track_interface:values track_script:values track_file:values "
        "track_process:values track_bfd:values notify_backup notify_master notify_fault "
        "notify_stop notify smtp_alert global_tracking sync_group_tracking_weight "
        "notify_priority_changes "
    ),
    "garp_group": _section("garp_interval gna_interval interface interfaces:values "),
    "vrrp_instance": _section(
        "use_vmac use_vmac_addr vmac_xmit_base use_ipvlan unicast_peer:values "
        "unicast_fault_no_peer check_unicast_src old_unicast_checksum native_ipv6 state "
        "interface vrf dont_track_primary track_interface:values track_script:values "
        "track_file:values track_process:values track_bfd:values mcast_src_ip unicast_src_ip "
        "mcast_dst_ip track_src_ip virtual_router_id unicast_ttl version priority advert_int "
        "virtual_ipaddress:values virtual_ipaddress_excluded:values promote_secondaries "
        "linkbeat_use_polling virtual_routes:values virtual_rules:values accept no_accept "
        "pykad_bfd_takeover@pykad "
        "skip_check_adv_addr strict_mode preempt nopreempt preempt_delay debug notify_backup "
        "notify_master notify_fault notify_stop notify_deleted notify "
        "notify_master_rx_lower_pri smtp_alert notify_priority_changes "
        "lvs_sync_daemon_interface garp_master_delay garp_master_refresh garp_master_repeat "
        "garp_master_refresh_repeat garp_lower_prio_delay garp_lower_prio_repeat "
        "down_timer_adverts garp_extra_if vmac_garp_intvl lower_prio_no_advert "
        "higher_prio_send_advert kernel_rx_buf_size authentication:block "
        "v3_checksum_as_v2@2.2.8 no_virtual_ipaddress@2.2.8 owner_ignore_adverts@2.3.3 "
        "timer_expired_backup@2.2.8 thread_timer_expired@2.3.2 auth_hmac:block@2.4.0 "
    ),
    "vrrp_instance>authentication": _section("auth_type auth_pass "),
    "vrrp_script": _section("script interval timeout weight rise fall user init_fail "),
    "vrrp_track_process": _section(
        "process param_match weight quorum quorum_max delay terminate_delay fork_delay "
        "full_command "
    ),
    "SSL": _section("password ca certificate key "),
    "virtual_server": _section(
        "ip_family retry delay_before_retry warmup connect_timeout delay_loop "
        "inhibit_on_failure lb_algo lvs_sched hashed ops flag-1 flag-2 flag-3 sh-port "
        "sh-fallback mh-port mh-fallback lb_kind lvs_method persistence_engine "
        "persistence_timeout persistence_granularity protocol ha_suspend smtp_alert "
        "virtualhost snmp_name alpha omega quorum_up quorum_down quorum hysteresis weight "
        "sorry_server sorry_server_inhibit sorry_server_lvs_method real_server:block "
    ),
    "virtual_server>real_server": _section(
        "weight lvs_method uthreshold lthreshold inhibit_on_failure notify_up notify_down "
        "alpha retry delay_before_retry warmup connect_timeout delay_loop smtp_alert "
        "virtualhost snmp_name MISC_CHECK:block SMTP_CHECK:block TCP_CHECK:block "
        "PING_CHECK:block UDP_CHECK:block HTTP_GET:block SSL_GET:block DNS_CHECK:block "
        "FILE_CHECK:block BFD_CHECK:block "
    ),
    "virtual_server>real_server>MISC_CHECK": _section(
        "retry delay_before_retry warmup delay_loop alpha log_all_failures misc_path "
        "misc_timeout misc_dynamic user "
    ),
    "virtual_server>real_server>SMTP_CHECK": _section(
        "helo_name connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark "
        "retry delay_before_retry warmup delay_loop alpha log_all_failures host:block "
    ),
    "virtual_server>real_server>SMTP_CHECK>host": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures "
    ),
    "virtual_server>real_server>TCP_CHECK": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures "
    ),
    "virtual_server>real_server>PING_CHECK": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures "
    ),
    "virtual_server>real_server>UDP_CHECK": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures payload require_reply "
        "min_reply_length max_reply_length "
    ),
    "virtual_server>real_server>HTTP_GET": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures nb_get_retry virtualhost "
        "http_protocol enable_sni fast_recovery url:block sni_name@>2.2.7 tls_compliant@2.2.8 "
    ),
    "virtual_server>real_server>HTTP_GET>url": _section(
        "path digest status_code virtualhost regex regex_no_match regex_options "
        "regex_min_offset regex_max_offset regex_stack "
    ),
    "virtual_server>real_server>SSL_GET": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures nb_get_retry virtualhost "
        "http_protocol enable_sni fast_recovery url:block sni_name@>2.2.7 tls_compliant@2.2.8 "
    ),
    "virtual_server>real_server>SSL_GET>url": _section(
        "path digest status_code virtualhost regex regex_no_match regex_options "
        "regex_min_offset regex_max_offset regex_stack "
    ),
    "virtual_server>real_server>DNS_CHECK": _section(
        "connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry "
        "delay_before_retry warmup delay_loop alpha log_all_failures type name "
    ),
    "virtual_server>real_server>FILE_CHECK": _section("track_file weight "),
    "virtual_server>real_server>BFD_CHECK": _section("name alpha "),
    "bfd_instance": _section(
        "source_ip neighbor_ip neighbour_ip min_rx min_tx idle_tx multiplier passive ttl "
        "hoplimit max_hops weight vrrp checker multihop@2.2.8 pykad_auth@pykad "
    ),
    "track_file": _section("file weight init_file "),
    "vrrp_track_file": _section("file weight init_file "),
    "vrrp_instance>auth_hmac": _section(
        "key@2.4.0 active_key@2.4.0 anti_replay@2.4.0 time_window@2.4.0 mode@2.4.0 "
    ),
}
"""Section path (``""`` for the top level, ``A>B`` for nested) -> its keywords."""
