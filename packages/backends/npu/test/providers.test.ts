import { describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '@weft/core';
import { deviceClass, toOrtProvider, validateProvider, type ProviderOptions } from '../src/index.js';

describe('provider options', () => {
  it.each<[ProviderOptions, unknown, string]>([
    [{ name: 'qnn' }, { name: 'qnn', backendType: 'htp', enableFp16Precision: true }, 'npu'],
    [{ name: 'qnn', backendPath: 'QnnHtp.dll', enableFp16Precision: false }, { name: 'qnn', backendPath: 'QnnHtp.dll', enableFp16Precision: false }, 'npu'],
    [{ name: 'qnn', backendType: 'cpu' }, { name: 'qnn', backendType: 'cpu', enableFp16Precision: true }, 'cpu'],
    // COREML_FLAG_CREATE_MLPROGRAM (0x10) | COREML_FLAG_ONLY_ENABLE_DEVICE_WITH_ANE (0x04)
    [{ name: 'coreml' }, { name: 'coreml', coreMlFlags: 0x014 }, 'npu'],
    [{ name: 'coreml', modelFormat: 'neuralNetwork', requireNeuralEngine: false }, { name: 'coreml', coreMlFlags: 0 }, 'npu'],
    [
      { name: 'coreml', computeUnits: 'cpuAndGpu', staticInputShapesOnly: true, enableOnSubgraph: true },
      { name: 'coreml', coreMlFlags: 0x020 | 0x010 | 0x008 | 0x004 | 0x002 },
      'gpu',
    ],
    [{ name: 'coreml', computeUnits: 'cpuOnly' }, { name: 'coreml', coreMlFlags: 0x001 | 0x010 | 0x004 }, 'cpu'],
    [{ name: 'nnapi' }, { name: 'nnapi', useFP16: false, useNCHW: false, cpuDisabled: true, cpuOnly: false }, 'npu'],
    [{ name: 'nnapi', useFP16: true, cpuOnly: true }, { name: 'nnapi', useFP16: true, useNCHW: false, cpuDisabled: false, cpuOnly: true }, 'cpu'],
    [{ name: 'webnn' }, { name: 'webnn', deviceType: 'npu' }, 'npu'],
    [{ name: 'webnn', powerPreference: 'low-power' }, { name: 'webnn', deviceType: 'npu', powerPreference: 'low-power' }, 'npu'],
    [{ name: 'openvino' }, { name: 'openvino', device_type: 'NPU' }, 'npu'],
    [
      { name: 'openvino', deviceType: 'AUTO:NPU,CPU', precision: 'FP16', cacheDir: '/tmp/ov', numThreads: 4 },
      { name: 'openvino', device_type: 'AUTO:NPU,CPU', precision: 'FP16', cache_dir: '/tmp/ov', num_of_threads: '4' },
      'npu',
    ],
    [{ name: 'dml' }, { name: 'dml', deviceId: 0 }, 'gpu'],
    [{ name: 'dml', deviceId: 1 }, { name: 'dml', deviceId: 1 }, 'gpu'],
    [{ name: 'cpu' }, { name: 'cpu' }, 'cpu'],
    [{ name: 'wasm' }, { name: 'wasm' }, 'cpu'],
  ])('%j → onnxruntime gets %j (device %s)', (options, ort, device) => {
    expect(validateProvider(options, 'p')).toEqual(options);
    expect(toOrtProvider(options)).toEqual(ort);
    expect(deviceClass(options)).toBe(device);
  });

  it('accepts a bare name', () => {
    expect(validateProvider('qnn', 'p')).toEqual({ name: 'qnn' });
  });

  it.each<[unknown, RegExp]>([
    ['tpu', /"tpu" is not a provider of the npu backend/],
    [{ name: 'cuda' }, /"cuda" is not a provider/],
    [{}, /must be a provider name or an object with a "name"/],
    [{ name: 'qnn', backendType: 'dsp' }, /backendType must be one of htp, cpu, gpu/],
    [{ name: 'qnn', backendType: 'htp', backendPath: 'QnnHtp.dll' }, /mutually exclusive/],
    [{ name: 'qnn', backendPath: '' }, /backendPath must be a non-empty string/],
    [{ name: 'qnn', enableFp16Precision: 'yes' }, /enableFp16Precision must be a boolean/],
    [{ name: 'qnn', htpPerformanceMode: 'burst' }, /no option "htpPerformanceMode" \(onnxruntime-node's binding forwards only backendType, backendPath and enableFp16Precision/],
    [{ name: 'qnn', backend_path: 'x' }, /use backendPath/],
    [{ name: 'coreml', MLComputeUnits: 'CPUAndNeuralEngine' }, /no option "MLComputeUnits" \(use computeUnits; .* no CPUAndNeuralEngine/],
    [{ name: 'coreml', coreMlFlags: 16 }, /flags are computed from them/],
    [{ name: 'coreml', computeUnits: 'cpuAndNeuralEngine' }, /computeUnits must be one of all, cpuAndGpu, cpuOnly/],
    [{ name: 'coreml', modelFormat: 'MLProgram' }, /modelFormat must be one of mlProgram, neuralNetwork/],
    [{ name: 'nnapi', cpuOnly: true, cpuDisabled: true }, /contradict/],
    [{ name: 'nnapi', useFP16: 1 }, /useFP16 must be a boolean/],
    [{ name: 'webnn', deviceType: 'gpu' }, /deviceType must be one of npu/],
    [{ name: 'webnn', powerPreference: 'max' }, /powerPreference must be one of/],
    [{ name: 'openvino', deviceType: 'VPU' }, /deviceType must be one of NPU, GPU, CPU/],
    [{ name: 'openvino', device_type: 'NPU' }, /use deviceType/],
    [{ name: 'openvino', numThreads: 0 }, /numThreads must be an integer from 1 to 1024 \(got 0\)/],
    [{ name: 'dml', deviceId: -1 }, /deviceId must be an integer from 0 to 2147483647 \(got -1\)/],
    [{ name: 'dml', device_id: 0 }, /use deviceId/],
    [{ name: 'cpu', useArena: false }, /the cpu provider has no option "useArena"/],
  ])('rejects %j', (entry, message) => {
    expect(() => validateProvider(entry, 'providers[0]')).toThrow(InvalidOptionsError);
    expect(() => validateProvider(entry, 'providers[0]')).toThrow(message);
  });

  // Values onnxruntime would misread, and inputs that used to crash the validator or slip past it.
  it.each<[string, unknown, RegExp]>([
    ['a BigInt', { name: 'qnn', backendType: 10n }, /providers\[0\]\.backendType must be one of htp, cpu, gpu; got 10n\./],
    ['a symbol', { name: 'coreml', modelFormat: Symbol('x') }, /modelFormat must be one of mlProgram, neuralNetwork; got a symbol\./],
    ['a thread count OpenVINO would read as 1 ("1e+21")', { name: 'openvino', numThreads: 1e21 }, /numThreads must be an integer from 1 to 1024/],
    ['a DirectML adapter index past a C int', { name: 'dml', deviceId: 2 ** 31 }, /deviceId must be an integer from 0 to 2147483647/],
    ['a NUL inside a library path (native code would cut it there)', { name: 'qnn', backendPath: 'QnnHtp.dll\0.txt' }, /backendPath must be a non-empty string without NUL characters/],
    ['a name inherited from a prototype', Object.create({ name: 'qnn' }) as unknown, /must be a provider name or an object with a "name"/],
  ])('refuses %s with an InvalidOptionsError', (_what, entry, message) => {
    let caught: unknown;
    try {
      validateProvider(entry, 'providers[0]');
    } catch (error) {
      caught = error;
    }
    expect(InvalidOptionsError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it('an unknown key named like an Object.prototype member gets no bogus hint', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      const entry = JSON.parse(`{ "name": "qnn", "${key}": 1 }`) as unknown;
      expect(() => validateProvider(entry, 'p')).toThrow(new RegExp(`^p: the qnn provider has no option "${key}"; it takes backendType, backendPath, enableFp16Precision\\.$`));
    }
    // A JSON "__proto__" key is an own key like any other: refused, not turned into a prototype.
    expect(() => validateProvider(JSON.parse('{ "name": "qnn", "__proto__": { "backendType": "dsp" } }'), 'p')).toThrow(/has no option "__proto__"/);
  });

  it('uses exactly what it checked: each option is read once, inherited ones are ignored', () => {
    let reads = 0;
    const shifty = {
      name: 'qnn',
      get backendType() {
        return reads++ === 0 ? 'htp' : 'dsp';
      },
    };
    const checked = validateProvider(shifty, 'p');
    expect(reads).toBe(1);
    expect(toOrtProvider(checked)).toEqual({ name: 'qnn', backendType: 'htp', enableFp16Precision: true });
    expect(Object.isFrozen(checked)).toBe(true);

    // An option reached through the prototype was checked but then dropped by the copy; now it is neither.
    const inherited = Object.assign(Object.create({ backendPath: 'C:/qnn/QnnCpu.dll' }) as object, { name: 'qnn' });
    expect(validateProvider(inherited, 'p')).toEqual({ name: 'qnn' });

    const throwing = {
      name: 'dml',
      get deviceId(): number {
        throw new Error('no access');
      },
    };
    expect(() => validateProvider(throwing, 'providers[1]')).toThrow(/^providers\[1\]\.deviceId could not be read: no access$/);
    expect(() => validateProvider(Object.freeze({ name: 'dml', deviceId: 1 }), 'p')).not.toThrow();
  });

  it('classifies a QNN backend library by its file name, not the folders it lies in', () => {
    expect(deviceClass({ name: 'qnn', backendPath: 'C:\\tools\\htp-sdk\\lib\\QnnCpu.dll' })).toBe('cpu');
    expect(deviceClass({ name: 'qnn', backendPath: '/opt/dsp/libQnnGpu.so' })).toBe('gpu');
    expect(deviceClass({ name: 'qnn', backendPath: '/opt/gpu-tools/libQnnHtp.so' })).toBe('npu');
    expect(deviceClass({ name: 'qnn', backendPath: 'QnnDsp.dll' })).toBe('npu');
  });
});
