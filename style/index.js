import './base.css';
import './cluster.css';
import './profile.css';
