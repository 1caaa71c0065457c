"`aigfd fit` and `aigfd demo` build the same preprocessing under each protocol (`aigfd.preprocess.protocol_preprocess`), the released code's border included."
import pytest
from aigfd.preprocess import Preprocess, config_preprocess
from aigfd.protocol import PROTOCOLS
from aigfd.detector import Detector, fit_detector
from aigfd.demo import demo_config
from aigfd.model import save_model

@pytest.mark.parametrize('protocol', list(PROTOCOLS))
def test_fit_and_demo_preprocess_alike(protocol, tiny_model, london_faces, tmp_path, monkeypatch):
    c = demo_config(quick=True, protocol=protocol)
    demo_pre = config_preprocess(c)  # what `aigfd demo` fits and scores its detector with
    save_model(tiny_model, tmp_path/'m')
    got = {}
    class Stop(Exception): pass
    def fake_fit(cls, real, model, backbone, pre=None, **kw): got['pre'] = pre; raise Stop  # the preprocessing `aigfd fit` hands to the fit
    monkeypatch.setattr(Detector, 'fit', classmethod(fake_fit))
    with pytest.raises(Stop): fit_detector(london_faces, tmp_path/'m.safetensors', crop='face', jpeg_quality=c['jpeg_quality'], protocol=protocol)  # `aigfd fit --crop face`
    assert isinstance(got['pre'], Preprocess) and got['pre'] == demo_pre
    assert demo_pre.border == PROTOCOLS[protocol].border and demo_pre.resize == PROTOCOLS[protocol].resize
    assert (demo_pre.border, demo_pre.resize) == (('pad', 'pil') if protocol == 'paper' else ('stretch', 'tensor'))
