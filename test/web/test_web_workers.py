"""The gateway in front of a shared queue and workers (seed-001), started from the launch plan."""

import json

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from conftest import next_domain_id, wait_for
from ros_processes import Processes
from web_support import png, qr_image, TOKEN

from edgeserve_ros.web.frames import make_frame
from edgeserve_ros.web.launch_plan import web_plan

pytestmark = pytest.mark.ros
MODULES = {'shared_queue_node': 'edgeserve_ros.models.shared_queue_node',
           'queue_worker': 'edgeserve_ros.models.queue_worker',
           'web_gateway_node': 'edgeserve_ros.web.web_gateway_node'}
FRAMES = 16


def _config(tmp_path):
    doc = {'models': [{'name': 'qrslow', 'kind': 'function',
                       'target': 'edgeserve_ros.models.zoo.fixed_delay',
                       'params': {'delay_ms': 150, 'label': 'done'}, 'inputs': ['image']}],
           'batching': {'qrslow': {'max_batch': 1, 'max_delay': 0.0}},
           'workers': {'qrslow': {'count': 2, 'lease_timeout': 0.5}},
           'gateway': {'ws_in_flight': 8, 'max_client_queue': 16, 'result_timeout': 60.0}}
    path = tmp_path / 'web.yaml'
    path.write_text(yaml.safe_dump(doc))
    return doc, str(path)


def test_worker_killed_and_worker_failing_lose_no_frame(tmp_path):
    doc, path = _config(tmp_path)
    procs = Processes(next_domain_id(), tmp_path)
    procs.env['EDGESERVE_WEB_TOKEN'] = TOKEN
    try:
        for node in web_plan(doc, path, '', {'port': 0, 'port_file': str(tmp_path / 'port')}):
            if node.name == 'qrslow_worker_1':  # the survivor fails on half its images
                node.parameters.update(fault_drop=0.5, fault_seed=3)
            procs.start(MODULES[node.executable], node.name, **node.parameters)
        port = tmp_path / 'port'
        assert wait_for(lambda: port.exists() and port.read_text().strip(), 120)
        url = f'http://127.0.0.1:{port.read_text().strip()}'
        assert wait_for(lambda: httpx.get(f'{url}/healthz', timeout=5).json()[
            'models']['qrslow']['ready'], 120), procs.log('web_gateway')
        image = png(qr_image('w'))
        answers, killed = [], False
        with connect(f'{url.replace("http", "ws")}/v1/models/qrslow/stream?token={TOKEN}',
                     max_size=None) as ws:
            for i in range(FRAMES):
                ws.send(make_frame(i, image))
            while len(answers) < FRAMES:
                answers.append(json.loads(ws.recv(timeout=120)))
                if not killed and answers[-1]['worker'] == 'qrslow_worker_0':
                    killed = True  # it pulls its next frame at once: it likely holds one
                    procs.kill('qrslow_worker_0')
        assert [(a['id'], a['status']) for a in answers] == [(i, 200) for i in range(FRAMES)]
        assert killed, 'worker 0 never answered'
        assert 'qrslow_worker_1' in {a['worker'] for a in answers}
        queue_log = procs.log('qrslow_queue')
        print(f"\nworkers: {[a['worker'][-1] for a in answers]}; re-sent at once "
              f"{queue_log.count('no longer holds')} time(s), after the lease "
              f"{queue_log.count('after lease timeout')} time(s)")
        assert 'no longer holds' in queue_log  # worker 1's drops went back at its next pull
        assert procs.procs['web_gateway'].poll() is None
        assert wait_for(lambda: httpx.get(f'{url}/healthz').json()['queue_depth'] == 0, 30)
    finally:
        procs.close()
