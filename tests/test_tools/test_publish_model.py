"""tools/misc/publish_model.py: weights and meta only, named after their SHA-256."""
import hashlib

import torch
from tool_loader import load_tool


def test_publish_drops_resume_state_and_names_by_hash(tmp_path, capsys):
    state = {'backbone.weight': torch.arange(6.).reshape(2, 3)}
    src = tmp_path / 'iter_8.pth'
    torch.save(dict(meta=dict(iter=8), state_dict=state, optimizer=dict(state={}),
                    message_hub=dict(log_scalars={})), src)
    tool = load_tool('tools/misc/publish_model.py')
    final = tool.process_checkpoint(str(src), str(tmp_path / 'out' / 'model.pth'))
    data = open(final, 'rb').read()
    assert final == str(tmp_path / 'out' / f'model-{hashlib.sha256(data).hexdigest()[:8]}.pth')
    assert not (tmp_path / 'out' / 'model.pth').exists()
    published = torch.load(final, weights_only=True)
    assert set(published) == {'meta', 'state_dict'} and published['meta'] == dict(iter=8)
    assert torch.equal(published['state_dict']['backbone.weight'], state['backbone.weight'])
    assert "dropped ['message_hub', 'optimizer']" in capsys.readouterr().out
