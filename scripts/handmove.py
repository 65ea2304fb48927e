#!/usr/bin/python3
"""
Live migration of vs1 from DC A to DC B without the controller: hand-installed rules
(handrules.py) play the network, the emulated hypervisor moves vs1, and a tiny callback
listener installs the redirect at PE_A the moment the hypervisor reports completion, as the
controller's cutover does. Prints the probe results. A developer check of the testbed itself.

    /usr/bin/python3 scripts/handmove.py [--mem-mb 256] [--bw-mbit 1000] [--rate 200]
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handrules                 # noqa: E402
import wanmig_testbed as tb      # noqa: E402

CALLBACK_PORT = 18181


def cutover_listener(reports):
    """Answers the hypervisor's completion report by installing the redirect at once."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            if body['status'] == 'completed':
                handrules.redirect()
            reports.append({'at': time.time(), 'body': body})
            self.send_response(200)
            self.send_header('Content-Length', '0')
            self.end_headers()

    server = HTTPServer(('127.0.0.1', CALLBACK_PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--mem-mb', type=float, default=256)
    parser.add_argument('--dirty-mb-s', type=float, default=40)
    parser.add_argument('--bw-mbit', type=float, default=1000)
    parser.add_argument('--rate', type=float, default=200)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix='wanmig-handmove-')
    probe_out = os.path.join(workdir, 'probes.json')
    net = hypervisor = listener = server = client = None
    tb.ensure_ovs()
    tb.mininet_cleanup()
    try:
        net = tb.start_net(remote=False)
        handrules.install_routes()
        handrules.install_tunnel()
        h1, vs1 = net.get('h1', 'vs1')
        tb.wait_until(lambda: tb.pings(h1, tb.VS1_IP), 10, what='h1 -> vs1')
        reports = []
        listener = cutover_listener(reports)
        model = tb.PrecopyModel(mem_mb=args.mem_mb, dirty_mb_s=args.dirty_mb_s, bw_mbit=args.bw_mbit)
        hypervisor = tb.Hypervisor(model=model).start()
        server = tb.start_probe_server(vs1, duration=300)
        client = tb.start_probe_client(h1, probe_out, rate=args.rate, duration=120)
        time.sleep(2)
        request = {'migration': 1, 'server': 'vs1', 'ip': tb.VS1_IP, 'mac': '00:00:00:00:02:10',
                   'source': 'dcA', 'destination': 'dcB', 'sourcePe': 'of:000000000000000a',
                   'destinationPe': 'of:000000000000000b', 'destinationPort': 2,
                   'callback': 'http://127.0.0.1:%d/migrations/1/hypervisor' % CALLBACK_PORT}
        post = urllib.request.Request('http://127.0.0.1:8300/migrations', method='POST',
                                      data=json.dumps(request).encode(),
                                      headers={'Content-Type': 'application/json'})
        print('hypervisor answered HTTP', urllib.request.urlopen(post, timeout=5).status)
        tb.wait_until(lambda: reports, 120, what='the completion report')
        time.sleep(2)
        results = tb.stop_probe_client(client, probe_out)
        migration = hypervisor.migrations[1].as_dict()
        summary = tb.downtime(results, tb.pause_window(migration))
        summary['tcp'] = results['tcp']
        summary['redirectAfterReportMs'] = round(
            (reports[0]['at'] - migration['timestamps']['attachedAtDestination']['wall']) * 1000, 3)
        print(json.dumps(summary, indent=2))
        with open(os.path.join(workdir, 'handmove.json'), 'w') as f:
            json.dump({'summary': summary, 'hypervisor': migration, 'reports': reports}, f, indent=2)
        print('results in', workdir)
    finally:
        tb.stop_process(client)
        tb.stop_process(server)
        if hypervisor:
            hypervisor.stop()
        if listener:
            listener.shutdown()
        tb.stop_net(net)
        tb.mininet_cleanup()


if __name__ == '__main__':
    main()
