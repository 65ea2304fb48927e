"""
Hand-installed OpenFlow 1.3 rules for the 2-DC testbed, for working without the controller:
routes between site1 and vs1 at DC A, gateway ARP answered by the switches themselves, the
PE_A -> PE_B MPLS tunnel and the redirect at PE_A. They mirror what the wanmig controller
installs (a developer tool; the controller's own rules carry 0x57A9... cookies, these 0x4A4E).
"""

import subprocess

GATEWAY_MAC = '00:00:5e:00:01:01'
H1_MAC, VS1_MAC = '00:00:00:00:01:01', '00:00:00:00:02:10'
SITE1, VS1 = '10.0.1.0/24', '10.2.0.10'
GATEWAYS = ('10.0.1.254', '10.2.0.254')
TUNNEL_LABEL = 1000
COOKIE = '0x4a4e000000000000'


def ofctl(*args):
    subprocess.run(('ovs-ofctl', '-O', 'OpenFlow13') + args, check=True, capture_output=True, text=True)


def add(switch, flow):
    ofctl('add-flow', switch, 'cookie=%s,%s' % (COOKIE, flow))


def arp_responder(switch, gateway):
    """Turn an ARP request for the gateway into the reply, sent back where it came from."""
    add(switch, 'priority=500,arp,arp_op=1,arp_tpa=%s,actions='
        'move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:%s->eth_src,set_field:2->arp_op,'
        'move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],'
        'set_field:%s->arp_sha,set_field:%s->arp_spa,IN_PORT' % (gateway, GATEWAY_MAC, GATEWAY_MAC, gateway))


def install_routes():
    """site1 <-> vs1 through DC A, return traffic from DC B too (it is plain routing)."""
    for switch in ('cs1', 'peA', 'peB'):
        for gateway in GATEWAYS:
            arp_responder(switch, gateway)
    to_vs1 = 'priority=100,ip,nw_dst=%s,actions=' % VS1
    add('cs1', to_vs1 + 'output:2')
    add('core1', to_vs1 + 'output:2')
    add('peA', to_vs1 + 'set_field:%s->eth_src,set_field:%s->eth_dst,output:2' % (GATEWAY_MAC, VS1_MAC))
    to_site1 = 'priority=100,ip,nw_dst=%s,actions=' % SITE1
    add('peA', to_site1 + 'output:1')
    add('peB', to_site1 + 'output:1')
    add('core2', to_site1 + 'output:1')
    add('core1', to_site1 + 'output:1')
    add('cs1', to_site1 + 'set_field:%s->eth_src,set_field:%s->eth_dst,output:1' % (GATEWAY_MAC, H1_MAC))


def install_tunnel(label=TUNNEL_LABEL):
    """The PE_A -> PE_B label-switched path (not used until the redirect)."""
    mpls = 'priority=200,mpls,mpls_label=%d,actions=' % label
    add('core1', mpls + 'output:3')
    add('core2', mpls + 'output:2')
    add('peB', mpls + 'pop_mpls:0x0800,set_field:%s->eth_src,set_field:%s->eth_dst,output:2'
        % (GATEWAY_MAC, VS1_MAC))


def redirect(label=TUNNEL_LABEL):
    """The cutover: traffic for vs1 reaching PE_A goes back out of its WAN port into the tunnel."""
    add('peA', 'priority=300,ip,nw_dst=%s,actions=push_mpls:0x8847,set_field:%d->mpls_label,IN_PORT'
        % (VS1, label))


def remove_all(switches=('cs1', 'core1', 'core2', 'peA', 'peB')):
    for switch in switches:
        ofctl('del-flows', switch, 'cookie=%s/-1' % COOKIE)
