"""Thread scaling of fedrad's classifier training-step graph (the ONNX graph built in TypeScript,
run with Python onnxruntime on the CPU) beside the same network in PyTorch (CPU at the same thread
counts, and on the GPU). Prints one JSON line per measurement.
Inputs from: npx tsx bench/export-training-graph.ts .device
Usage: python3 bench/device/scaling.py .device [seconds]"""
import json, os, sys, time
import numpy as np

d = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
meta = json.load(open(os.path.join(d, 'meta.json')))
S = meta['inputSize']
W = meta['width']
cores = os.cpu_count()
threads = [t for t in (1, 2, 4, 8, 16) if t <= cores]


def emit(**kw):
    print(json.dumps(kw), flush=True)


def timed(step, batch):
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 5:
        step()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def ort_bench():
    import onnxruntime as ort
    from safetensors.numpy import load_file
    init = load_file(os.path.join(d, 'cnn-init.safetensors'))
    for batch in (32, 256):
        x = np.random.default_rng(0).standard_normal((batch, 1, S, S), dtype=np.float32)
        y = np.zeros((batch, 2), np.float32)
        y[np.arange(batch), np.arange(batch) % 2] = 1
        for t in threads:
            so = ort.SessionOptions()
            so.intra_op_num_threads = t
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(os.path.join(d, 'cnn-training.onnx'), so, providers=['CPUExecutionProvider'])
            state = dict(init)
            names = [o.name for o in sess.get_outputs()]
            step_no = [0]

            def step():
                step_no[0] += 1
                feeds = dict(state)
                feeds.update({meta['dataInput']: x, 'target': y, 'learning_rate': np.array(1e-3, np.float32), 'step': np.array(step_no[0], np.float32)})
                out = dict(zip(names, sess.run(None, feeds)))
                for i, o in meta['carried'].items():
                    state[i] = out[o]
            emit(engine='fedrad onnx graph (onnxruntime CPU)', batch=batch, threads=t, imagesPerSecond=round(timed(step, batch), 1))


def torch_model(torch):
    nn = torch.nn
    layers, cin = [], 1
    for s in range(3):
        cout = W * 2 ** s
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 2))


def torch_bench():
    import torch
    for device in (['cpu'] + (['cuda'] if torch.cuda.is_available() else [])):
        for batch in (32, 256):
            for t in (threads if device == 'cpu' else [None]):
                if t:
                    torch.set_num_threads(t)
                torch.manual_seed(0)
                m = torch_model(torch).to(device)
                opt = torch.optim.Adam(m.parameters(), lr=1e-3)
                x = torch.randn(batch, 1, S, S, device=device)
                y = (torch.arange(batch, device=device) % 2)
                lossf = torch.nn.CrossEntropyLoss()

                def step():
                    opt.zero_grad(set_to_none=True)
                    lossf(m(x), y).backward()
                    opt.step()
                    if device == 'cuda':
                        torch.cuda.synchronize()
                emit(engine=f'pytorch {torch.__version__} {device}', batch=batch, threads=t, imagesPerSecond=round(timed(step, batch), 1))


emit(host={'cores': cores})
ort_bench()
torch_bench()
