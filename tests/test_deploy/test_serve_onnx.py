"""tools/serve.py's service runs an exported .onnx file (the session's demo export): the
answers say so, and the labels equal inference_model on the same ONNX Runtime model."""
import http.client
import io
import json

import numpy as np
from deploy_helpers import DEMO_CONFIG
from PIL import Image

from fcn_mm.apis import inference_model
from fcn_mm.apis.serving import SegmentationRunner, smooth_random_image
from fcn_mm.apis.serving.app import BackgroundServer, ServeSettings, build_app


def _post(port, body, query):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    try:
        conn.request('POST', f'/predict{query}', body=body,
                     headers={'Content-Type': 'image/png'})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_an_onnx_model_is_served_with_its_labels(demo_onnx):
    runner = SegmentationRunner(DEMO_CONFIG, demo_onnx[0])
    assert runner.info == dict(model='fcn_r18-d8_demo.onnx', config='fcn_r18-d8_demo.py',
                               precision='float32', backend='onnxruntime')
    images = [smooth_random_image(96, 128, seed=s) for s in (1, 2)]
    buffers = []
    for image in images:
        buffers.append(io.BytesIO())
        Image.fromarray(image[:, :, ::-1]).save(buffers[-1], format='PNG')
    with BackgroundServer(build_app(runner, ServeSettings(max_batch=2))) as server:
        for image, buffer in zip(images, buffers):
            status, headers, body = _post(server.port, buffer.getvalue(), '?format=png')
            assert status == 200 and headers['x-backend'] == 'onnxruntime'
            assert headers['x-precision'] == 'float32'
            expected = inference_model(runner.model, image).pred_sem_seg.data[0].numpy()
            np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(body))), expected)
        status, _, body = _post(server.port, buffers[0].getvalue(), '?format=json')
        summary = json.loads(body)
        assert status == 200 and summary['backend'] == 'onnxruntime'
        first = inference_model(runner.model, images[0]).pred_sem_seg.data[0].numpy()
        assert [c['name'] for c in summary['classes']] == [runner.classes[i]
                                                          for i in np.unique(first)]
