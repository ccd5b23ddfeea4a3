from .onnx_export import (
    ATOL,
    DEFAULT_OPSET,
    INPUT_NAME,
    RTOL,
    ONNXExportError,
    TaskLogitsModule,
    allowed_difference,
    compare_with_pytorch,
    export_onnx,
    mismatched_tasks,
    onnx_session,
    run_onnx,
)

__all__ = [
    'ATOL', 'DEFAULT_OPSET', 'INPUT_NAME', 'ONNXExportError', 'RTOL', 'TaskLogitsModule',
    'allowed_difference', 'compare_with_pytorch', 'export_onnx', 'mismatched_tasks',
    'onnx_session', 'run_onnx'
]
